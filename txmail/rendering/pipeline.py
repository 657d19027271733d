"""The rendering pipeline.

    find_templates → get compiled templates (cached) → render them → subject

Compiling runs the recipient-independent steps once per template
(``txmail.rendering.compiled``); a message then only renders the compiled HTML and text
with its context. The per-message pipeline is the fallback, for templates the
precompiler can't prove exact (``Rendered.fallback_reason`` says why) and for
single messages whose values need it:

    render_body → compile_body → render_text

Either way the HTML's ``<html lang>`` then says the message's language
(``language.mark_language``). In tests (``variables.strict()``), a template
that outputs a variable that doesn't exist raises ``UndefinedVariable`` first.

Each step is a plain function so it can be read, tested and (for the preview)
reused on its own. ``render()`` runs them for one ``Draft`` (what
``Message.resolve()`` returned) inside its language and time zone; nothing
here calls back into the message.
"""

import html as html_lib
from contextlib import AbstractContextManager, ExitStack, nullcontext
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import Context, Template, engines
from django.template.loader import get_template
from django.utils import timezone, translation

from ..conf import txmail_settings
from ..draft import Draft, Rendered
from ..exceptions import TemplateNotFound
from ..mail.validation import check_one_line
from . import compiled as precompile
from . import find as tpl
from . import variables
from .compiled.runtime import render_once
from .language import mark_language
from .markup import drop_xml_invalid, inline_styles, mjml_to_html
from .text import html_to_text


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
            written=lambda: _written(templates),
        )
    return inline_styles(rendered)


def _written(templates: tpl.TemplateSet) -> list[Any] | None:
    """The body's own container text, each piece at its file and line."""
    from .compiled.flatten import container_text

    found = container_text(templates.body, templates.body_origin)
    return found[1] if found is not None else None


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
    """Step 4: the text part, from ``<name>.txt`` (not autoescaped) or the HTML.

    A ``.txt`` loses the characters XML can't carry too, so a value reads the
    same in both parts (see ``compile.XML_INVALID``).
    """
    if templates.text is not None:
        text = tpl.render(templates.text, context, autoescape=False)
        return drop_xml_invalid(text).strip() + "\n"
    return html_to_text(html)


def render_string(source: str, context: dict[str, Any], *, owner: str = "") -> str:
    """Render a class's ``subject`` template string, autoescaped like the body.

    ``clean_subject`` then unescapes: exactly what escaping added comes off, so a
    value that contains "&amp;" arrives as "&amp;".
    """
    engine = engines.all()[0]
    if hasattr(engine, "engine"):  # DjangoTemplates: honour its libraries/builtins
        if "{" not in source:
            return source  # no tag: it renders as it is
        template = _string_template(engine.engine, source)
        if variables.is_strict():
            variables.raise_undefined(owner, variables.in_template(
                template, context, where=f"{owner}.subject"))
        return render_once(template, Context(context))
    return engine.from_string(source).render(context)


def render_file(name: str, context: dict[str, Any], *, owner: str = "") -> str:
    """Render a subject template file (``subject_template_name``), autoescaped."""
    template = get_template(name)
    if variables.is_strict():
        variables.raise_undefined(owner, variables.in_template(template, context))
    return template.render(context)


@lru_cache(maxsize=512)
def _string_template(engine: Any, source: str) -> Template:
    # Parsing a subject costs more than rendering it; a class's subject is one
    # string, so parse it once per engine (engines are rebuilt on settings change).
    return Template(source, engine=engine)


def clean_subject(owner: str, subject: str) -> str:
    """Step 5's last part: one line, stripped, HTML entities unescaped."""
    subject = html_lib.unescape(str(subject)).strip()
    return check_one_line(owner, "subject", subject)


def activated(draft: Draft) -> AbstractContextManager[Any]:
    """Activate the draft's language and time zone, for rendering and building."""
    if not (draft.language or draft.time_zone):
        return nullcontext()  # most messages: nothing to switch, nothing to pay
    stack = ExitStack()
    if draft.language:
        stack.enter_context(translation.override(draft.language))
    if draft.time_zone:
        stack.enter_context(timezone.override(draft.time_zone))
    return stack


def render(draft: Draft) -> Rendered:
    """Run the whole pipeline for ``draft`` in its language and time zone."""
    with activated(draft):
        return render_activated(draft)


def render_activated(draft: Draft) -> Rendered:
    """``render()`` for a caller that already activated the draft's language."""
    owner = draft.owner
    context = draft.context
    templates = _find_templates(owner, list(draft.template_names))
    if variables.is_strict():
        variables.raise_undefined(owner, variables.in_templates(templates, context))
    html, text, reason, templates = _render_fast(owner, templates, context)
    if html is None or text is None:
        html = compile_body(owner, templates, render_body(templates, context), context)
        text = render_text(templates, context, html)
    html = mark_language(html, templates.kind)
    subject = clean_subject(owner, draft.subject)
    return Rendered(
        subject=subject,
        html=html,
        text=text,
        template=templates.body_origin,
        language=translation.get_language(),
        fallback_reason=reason,
        context=context,
    )


# Template names → TemplateSet, outside DEBUG: looking up the body and .txt costs
# two failed loader lookups per message (raised and caught TemplateDoesNotExist).
# Loaders don't change without a settings change (which clears this) or a
# restart; in DEBUG every lookup goes to the loaders so edits show up.
_found: dict[tuple[str, ...], tpl.TemplateSet] = {}


def _find_templates(owner: str, names: list[str]) -> tpl.TemplateSet:
    if settings.DEBUG:
        return tpl.find_templates(owner, names)
    key = tuple(names)
    found = _found.get(key)
    if found is None:
        found = _found[key] = tpl.find_templates(owner, names)
    return found


@receiver(setting_changed)
def _forget_found(setting: str, **kwargs: Any) -> None:
    if setting in ("TEMPLATES", "DEBUG", "INSTALLED_APPS"):
        _found.clear()
        _string_template.cache_clear()


def _render_fast(
    owner: str, templates: tpl.TemplateSet, context: dict[str, Any]
) -> tuple[str | None, str | None, str | None, tpl.TemplateSet]:
    """Render from the compiled templates: ``(html, text, fallback_reason, templates)``.

    ``html`` is None when the per-message pipeline must render instead, and
    ``fallback_reason`` says why. ``templates`` are reloaded in DEBUG after an edit.
    """
    if not txmail_settings.PRECOMPILE:
        reason = "precompiling is off (TXMAIL['PRECOMPILE'] = False)"
        return None, None, reason, templates
    compiled, templates = precompile.get_compiled(owner, templates)
    if compiled.fallback_reason is not None:
        return None, None, compiled.fallback_reason, templates
    try:
        html, text = compiled.render(context)
    except precompile.NeedsFallback as exc:
        return None, None, str(exc), templates
    if text is None:  # a .txt template: rendered exactly as the pipeline does
        text = render_text(templates, context, html)
    return html, text, None, templates
