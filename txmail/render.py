"""The rendering pipeline: one fixed sequence of named steps.

    find_templates → render_body → compile_body → render_text → render_subject

Each step is a plain function so it can be read, tested and (for the preview)
reused on its own. ``render_message`` runs them for one message instance inside
its language and time zone.
"""

import html as html_lib
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.template import Template, engines
from django.utils import timezone, translation

from . import templates as tpl
from .compile import inline_styles, mjml_to_html
from .exceptions import TemplateNotFound
from .text import html_to_text
from .validation import check_one_line

if TYPE_CHECKING:
    from .message import Message


@dataclass(frozen=True)
class Rendered:
    """What a message renders to, before any MIME is built."""

    subject: str
    html: str
    text: str
    template: str  # origin of the body template, for previews and errors
    language: str | None = None


def render_body(templates: tpl.TemplateSet, context: dict[str, Any]) -> str:
    """Step 2: render the body template with Django (autoescaped)."""
    return tpl.render(templates.body, context)


def compile_body(
    owner: str, templates: tpl.TemplateSet, rendered: str, context: dict[str, Any]
) -> str:
    """Step 3: MJML → HTML, or inline the CSS of an HTML template."""
    if templates.kind == "mjml":
        return mjml_to_html(
            rendered,
            origin=templates.body_origin,
            include_loader=_include_loader(owner, templates, context),
        )
    return inline_styles(rendered)


def _include_loader(owner: str, templates: tpl.TemplateSet, context: dict[str, Any]):
    """Resolve ``<mj-include path="...">`` through Django's template loaders.

    The included file is a template like ``{% include %}``'s: it renders with the
    including message's context.
    """

    def load(path: str) -> str:
        name = path.removeprefix("./")
        tried: list[str] = []
        template = tpl.get_template(name, tried)
        if template is None:
            raise TemplateNotFound(
                f"{owner}: template '{templates.body_origin}' includes {name!r}, "
                f"which was not found; tried {', '.join(tried)}. Fix the "
                "mj-include path (it is looked up like a Django template name).",
                tried=tried,
            )
        return tpl.render(template, context)

    return load


def render_text(
    templates: tpl.TemplateSet, context: dict[str, Any], html: str
) -> str:
    """Step 4: the text part, from ``<name>.txt`` (not autoescaped) or the HTML."""
    if templates.text is not None:
        return tpl.render(templates.text, context, autoescape=False).strip() + "\n"
    return html_to_text(html)


def render_string(source: str, context: dict[str, Any]) -> str:
    """Render a template string (a ``subject`` attribute) without autoescaping."""
    engine = engines.all()[0]
    if hasattr(engine, "engine"):  # DjangoTemplates: honour its libraries/builtins
        from django.template import Context

        return Template(source, engine=engine.engine).render(
            Context(context, autoescape=False)
        )
    return engine.from_string(source).render(context)


def clean_subject(owner: str, subject: str) -> str:
    """Step 5's last part: one line, stripped, HTML entities unescaped."""
    subject = html_lib.unescape(str(subject)).strip()
    return check_one_line(owner, "subject", subject)


def render_message(message: "Message") -> Rendered:
    """Run the whole pipeline for ``message`` in its language and time zone."""
    owner = type(message).__name__
    with ExitStack() as stack:
        language = message.get_language()
        if language:
            stack.enter_context(translation.override(language))
        time_zone = message.get_time_zone()
        if time_zone:
            stack.enter_context(timezone.override(time_zone))
        context = message.get_context_data()
        templates = tpl.find_templates(owner, message.get_template_names())
        html = compile_body(owner, templates, render_body(templates, context), context)
        text = render_text(templates, context, html)
        subject = clean_subject(owner, message.get_subject(context))
        return Rendered(
            subject=subject,
            html=html,
            text=text,
            template=templates.body_origin,
            language=translation.get_language(),
        )
