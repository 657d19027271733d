"""Find a message's templates: the body (``.mjml`` or ``.html``) and its ``.txt``."""

import re
from dataclasses import dataclass
from typing import Any

from django.template import Context, TemplateDoesNotExist, engines
from django.template.backends.django import Template as DjangoBackendTemplate
from django.template.loader_tags import ExtendsNode, IncludeNode

from ..exceptions import TemplateNotFound

# Tried in this order for each template name; the first that exists wins.
BODY_EXTENSIONS = (".mjml", ".html")
TEXT_EXTENSION = ".txt"


@dataclass(frozen=True)
class TemplateSet:
    """The templates one message renders: its body and, optionally, a text part."""

    name: str  # the template name without extension, as the class gave it
    body: Any  # a backend template (django.template.backends.*.Template)
    kind: str  # "mjml" or "html"
    text: Any | None = None

    @property
    def body_origin(self) -> str:
        return template_origin_name(self.body)


def template_origin_name(template: Any) -> str:
    origin = getattr(getattr(template, "template", None), "origin", None)
    return getattr(origin, "name", None) or str(origin)


def get_template(name: str, tried: list[str]) -> Any | None:
    """Return the first engine's template called ``name``, recording what was tried."""
    for engine in engines.all():
        try:
            return engine.get_template(name)
        except TemplateDoesNotExist as exc:
            found = [str(origin.name) for origin, _status in getattr(exc, "tried", [])]
            tried.extend(found or [f"{name} ({engine.name} engine)"])
    return None


def find_templates(owner: str, names: list[str]) -> TemplateSet:
    """Return the first body template among ``names`` and its sibling ``.txt``.

    ``owner`` is the class name used in the error message.
    """
    tried: list[str] = []
    for name in names:
        for ext in BODY_EXTENSIONS:
            body = get_template(name + ext, tried)
            if body is not None:
                text = get_template(name + TEXT_EXTENSION, [])
                return TemplateSet(name=name, body=body, kind=ext[1:], text=text)
    shown = ", ".join(repr(n) for n in names)
    raise TemplateNotFound(
        f"{owner}: template {shown} not found; tried "
        + ", ".join(tried)
        + ". Create one of these files, or set 'template_name' to an existing "
        "template (without its .mjml/.html extension).",
        tried=tried,
    )


def render(template: Any, context: dict[str, Any], *, autoescape: bool = True) -> str:
    """Render a backend template; ``autoescape=False`` for text and subjects."""
    if not autoescape and isinstance(template, DjangoBackendTemplate):
        # The backend's render() always uses the engine's autoescape setting; the
        # underlying Template takes a Context that can turn it off.
        return template.template.render(Context(context, autoescape=False))
    return template.render(context)


def source_of(template: Any) -> str:
    """Return the raw source of a backend template (for mj-include)."""
    inner = getattr(template, "template", template)
    source = getattr(inner, "source", None)
    if source is None:
        raise TypeError(f"Cannot read the source of template {template!r}.")
    return source


_MJ_INCLUDE = re.compile(r"""<mj-include\b[^>]*\bpath\s*=\s*["']([^"'{}]+)["']""")


def referenced_names(template: Any) -> list[str]:
    """Return the template names ``template`` extends, includes or mj-includes.

    Only names written as literals: ``{% include var %}`` is known at render time.
    """
    inner = getattr(template, "template", template)
    nodelist = getattr(inner, "nodelist", None)
    names: list[str] = []
    if nodelist is not None:
        for node in nodelist.get_nodes_by_type((ExtendsNode, IncludeNode)):
            expr: Any = node.parent_name if isinstance(node, ExtendsNode) else node.template
            if isinstance(getattr(expr, "var", None), str) and not expr.filters:
                names.append(str(expr.var))
    names += [path.removeprefix("./") for path in _MJ_INCLUDE.findall(source_of(template))]
    return list(dict.fromkeys(names))
