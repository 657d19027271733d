"""The template tags a compiled template runs per message.

A restored output tag is wrapped as ``{% txmail_out CODE [ID] %}{{ x }}{% endtxmail_out %}``:
Django renders the wrapped tag exactly as in the per-message pipeline, then the
mapping for ``CODE`` (``values.transform``) gives what MRML, premailer and
html2text would have made of it at that spot.

The one-pass template renders HTML and text part together: the text part's
pieces sit in ``{% txmail_text %}`` blocks next to the HTML that holds the same
values, and ``{% txmail_value CODE ID %}`` there reuses what the HTML's output
tag ``ID`` rendered in this pass, so each loop, condition and value is
evaluated once per message. ``render_both()`` runs such a template.
"""

import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.template import Context, Library, Node, NodeList, Template
from django.template.base import Parser, VariableNode, render_value_in_context
from django.utils.safestring import SafeString

from ..text import link_text
from .edges import EMPTY_LI_REASON, mark_edges, refusing_empty, resolve_edges, unmark
from .values import NeedsFallback, from_raw, transform, unescaped_plain

register = Library()


class _Pass:
    """One render of a one-pass template: output-tag values and the text pieces."""

    __slots__ = ("text", "values")

    def __init__(self) -> None:
        self.values: dict[int, str] = {}
        self.text: list[str] = []


def render_both(template: Template, context: Context) -> tuple[str, str]:
    """Render a runtime template with a new ``context``: ``(html, raw text part)``."""
    state = context.txmail_pass = _Pass()  # type: ignore[attr-defined]
    html = render_once(template, context)
    return html, resolve_edges("".join(state.text))


def render_once(template: Template, context: Context) -> str:
    """``template.render(context)`` for a Context made for this one render.

    ``Template.render`` binds the template with two context managers that
    restore the context afterwards; on a short template that costs as much as
    the rendering, and a Context thrown away afterwards needs no restoring.
    """
    context.render_context.template = template
    context.render_context.push()
    context.template = template
    context.template_name = template.name
    return template._render(context)  # type: ignore[attr-defined]


class OutNode(Node):
    """Any output tag: render it as the HTML part would, then map the value.

    ``escape`` is the engine's autoescape: what the per-message pipeline's HTML
    held. The text part renders with autoescape off but must start from that.
    ``keep``: the one-pass template's text part reuses this value.
    """

    def __init__(
        self, nodelist: NodeList, transform: Callable[[str], str], escape: bool,
        keep: int | None,
    ) -> None:
        self.nodelist = nodelist
        self.transform = transform
        self.escape = escape
        self.keep = keep

    def render(self, context) -> str:  # type: ignore[no-untyped-def]
        saved = context.autoescape
        context.autoescape = self.escape
        try:
            value = str(self.nodelist.render(context))
        finally:
            context.autoescape = saved
        if self.keep is not None:
            context.txmail_pass.values[self.keep] = value
        return self.transform(value)


class HtmlVarNode(Node):
    """``{{ var }}`` in the HTML part: as ``VariableNode``, then the mapping.

    A plain ``str`` that neither escaping nor the mapping would change is output
    as it is, skipping Django's localize/escape calls: most values are such; an
    ``int`` is written as localize() writes it without a thousand separator.
    Strings with "&" or quotes take ``values.from_raw``'s short cut.
    """

    child_nodelists = ()

    def __init__(
        self, node: VariableNode, code: str, keep: int | None, refuse_empty: bool = False
    ) -> None:
        self.filter_expression = node.filter_expression
        self.token = node.token
        self.transform = transform(code)
        self.unchanged = unescaped_plain(code)
        self.from_raw = from_raw(code)
        self.keep = keep
        self.refuse_empty = refuse_empty  # all an <li> holds (edges.annotate_html)

    def render(self, context) -> str:  # type: ignore[no-untyped-def]
        try:
            value = self.filter_expression.resolve(context)
        except UnicodeDecodeError:
            value = ""  # as VariableNode
        if type(value) is str and self.unchanged(value):
            out = value
        elif type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
            # What localize() and escaping make of an int with no grouping
            # (numberformat.format's own short cut), without their lookups.
            value = SafeString(value) if context.autoescape else str(value)
            out = self.transform(value)
        else:
            mapped = None
            if type(value) is str and self.from_raw is not None and context.autoescape:
                mapped = self.from_raw(value)
            if mapped is None:
                value = render_value_in_context(value, context)
                out = self.transform(value)
            else:
                out, value = mapped
        if self.keep is not None:
            context.txmail_pass.values[self.keep] = value
        if self.refuse_empty and not out:
            raise NeedsFallback(EMPTY_LI_REASON)
        return out


# Flags in a code ("tt-m:yn", "ht-x:e-raw"), see edges.py: a text value's edge
# spaces kept or not, or a value that is all an <li> holds.
_FLAGS = re.compile(r":([yne]+)")


def _split_code(code: str) -> tuple[str, str]:
    """``(code without flags, flags)``."""
    return _FLAGS.sub("", code), "".join(_FLAGS.findall(code))


@register.tag("txmail_out")
def do_out(parser: Parser, token) -> Node:  # type: ignore[no-untyped-def]
    bits = token.split_contents()
    code = bits[1]
    keep = int(bits[2]) if len(bits) > 2 else None
    nodelist = parser.parse(("endtxmail_out",))
    parser.delete_first_token()
    code, flags = _split_code(code)  # see edges.py
    escape = not code.endswith("-raw")  # "-raw": the engine doesn't autoescape
    code = code.removesuffix("-raw")
    refuse_empty = "e" in flags
    if len(nodelist) == 1 and type(nodelist[0]) is VariableNode and code.startswith("h"):
        # The HTML part renders with the engine's own autoescape setting.
        return HtmlVarNode(nodelist[0], code, keep, refuse_empty)
    mapping = transform(code)
    return OutNode(nodelist, refusing_empty(mapping) if refuse_empty else mapping, escape, keep)


class TextPartNode(Node):
    """``{% txmail_text %}``: text-part pieces of a one-pass template, set aside."""

    def __init__(self, nodelist: NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context) -> str:  # type: ignore[no-untyped-def]
        context.txmail_pass.text.append(self.nodelist.render(context))
        return ""


@register.tag("txmail_text")
def do_text(parser: Parser, token) -> TextPartNode:  # type: ignore[no-untyped-def]
    nodelist = parser.parse(("endtxmail_text",))
    parser.delete_first_token()
    return TextPartNode(nodelist)


class ValueNode(Node):
    """``{% txmail_value CODE ID %}``: output tag ``ID``'s value again, mapped for ``CODE``.

    The compiler puts it after that tag with no block tag between, so the value
    is this loop iteration's: the text part's copy, or a second copy in the HTML.
    """

    def __init__(
        self, mapping: Callable[[str], str], unit: int, edges: str | None
    ) -> None:
        self.mapping = mapping
        self.unit = unit
        # A text-part text node: its edges need its neighbours. "yn"-style
        # flags the compiler measured (edges.resolve_edges), "" unknown.
        self.edges = edges

    def render(self, context) -> str:  # type: ignore[no-untyped-def]
        value = self.mapping(context.txmail_pass.values[self.unit])
        return value if self.edges is None else mark_edges(value, self.edges)


@register.tag("txmail_value")
def do_value(parser: Parser, token) -> ValueNode:  # type: ignore[no-untyped-def]
    _, code, unit = token.split_contents()
    code, flags = _split_code(code)
    edges = flags if code.startswith(("tt", "tb")) else None
    mapping = transform(code)
    return ValueNode(refusing_empty(mapping) if "e" in flags else mapping, int(unit), edges)


class LinkNode(Node):
    """A link in the derived text: ``text (url)`` decided per message, as text.py does.

    ``kind``: "" (a link without images), "images" (with images and text of its
    own) or "alt" (images only: the text is their alt text).
    """

    def __init__(self, text: NodeList, href: NodeList, kind: str) -> None:
        self.text, self.href, self.kind = text, href, kind

    def render(self, context) -> str:  # type: ignore[no-untyped-def]
        text = " ".join(unmark(self.text.render(context)).split())
        href = unmark(self.href.render(context)).strip()
        if not href or href.startswith(("#", "javascript:")):
            # text.py unwraps such links and drops images: their alt goes too.
            # What is left may be empty, and then the spaces around it merge
            # as they do around an empty value (edges.resolve_edges).
            return mark_edges("" if self.kind == "alt" else text, "")
        if not text and self.kind == "images":
            # text.py then reads the link as its images' alt text, which this
            # compiled link doesn't have: render the message in full.
            raise NeedsFallback("a link's text is empty for this message; rendered in full.")
        # html2text collapses the whitespace runs of what text.py put in place
        # of the link (an href may hold some).
        return " ".join(link_text(text, href).split())


@register.tag("txmail_link")
def do_link(parser: Parser, token) -> LinkNode:  # type: ignore[no-untyped-def]
    kind = "".join(token.split_contents()[1:2])
    text = parser.parse(("txmail_href",))
    parser.delete_first_token()
    href = parser.parse(("endtxmail_link",))
    parser.delete_first_token()
    return LinkNode(text, href, kind)


class ScopeNode(Node):
    """Where an ``{% include %}`` was: a context level of its own."""

    def __init__(self, nodelist: NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context) -> str:  # type: ignore[no-untyped-def]
        with context.push():
            return self.nodelist.render(context)


@register.tag("txmail_scope")
def do_scope(parser: Parser, token) -> ScopeNode:  # type: ignore[no-untyped-def]
    nodelist = parser.parse(("endtxmail_scope",))
    parser.delete_first_token()
    return ScopeNode(nodelist)


class CompiledTemplate(Template):
    """A Django template of the user's engine that also knows txmail's tags."""

    def compile_nodelist(self):  # type: ignore[no-untyped-def]
        engine = self.engine
        # Template.compile_nodelist reads the engine's builtins; lend it ours
        # for this one parse instead of copying Django's error handling.
        self.engine = _EngineView(  # type: ignore[assignment]
            engine, [*engine.template_builtins, register]
        )
        try:
            return super().compile_nodelist()
        finally:
            self.engine = engine


class _EngineView:
    """An engine with extra builtins, for one parse."""

    def __init__(self, engine: Any, builtins: list[Library]) -> None:
        self.engine = engine
        self.template_builtins = builtins

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)
