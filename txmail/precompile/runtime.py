"""What a compiled template runs per message: guarded output, links, scopes.

A restored output tag is wrapped as ``{% txmail_out CODE %}{{ x }}{% endtxmail_out %}``.
The wrapped tag renders exactly as Django renders it in the per-message
pipeline (autoescaped ``S``); ``CODE`` then maps ``S`` to what MRML, premailer
(lxml) and html2text would have made of it at that spot. The mapping is only
applied where it is exact — values made of ordinary characters. Anything else
(markup from ``|safe``, control characters, a ``"`` in an attribute premailer
would re-quote, non-ASCII in a URL libxml2 would percent-encode…) raises
``NeedsFallback`` and that one message renders through the per-message pipeline.

Codes (see ``transform``): ``h`` (HTML part) or ``t`` (text part); then the
spot: ``t`` text node, ``a`` attribute, ``u`` URL attribute; after a dash the
tools that wrote the final HTML: ``m`` MRML, ``x`` premailer (lxml), ``mx`` both.
"""

import functools
import html
import re
import unicodedata
from collections.abc import Callable

from django.template import Library, Node, NodeList, Template
from django.template.base import Parser, VariableNode
from django.utils.formats import localize
from django.utils.safestring import SafeData
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]

from ..text import link_text

register = Library()


class NeedsFallback(Exception):
    """This message's values can't use the compiled template; render it in full."""

    silent_variable_failure = False  # Django must not swallow it into ""


# Markup (from |safe), entities Django's escape() never writes, and characters
# parsers drop or rewrite (C0/C1 controls, CR, surrogates, noncharacters).
_UNSAFE = re.compile(
    "[<>\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
    r"|&(?!(?:amp|lt|gt|quot|#x27|#39);)"
)
# URL characters libxml2's serializer leaves as they are (no space, no quotes,
# no non-ASCII, no "{" which it treats specially after "&").
_PLAIN_URL = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$()*+,;=%|^]|&amp;|&#x27;|&#39;)*")
_WHITESPACE = re.compile(r"\s+")  # html2text's own collapsing regex


def _guard(value: str, where: str) -> None:
    match = _UNSAFE.search(value)
    if match:
        raise NeedsFallback(
            f"a value rendered into {where} contains {match.group(0)!r}, which the "
            "full pipeline would parse; this message was rendered in full."
        )


def _apos(value: str) -> str:
    # lxml writes ' and " literally in text, and ' literally in attributes.
    return value.replace("&#x27;", "'").replace("&#39;", "'")


def _text(value: str) -> str:
    _guard(value, "HTML text")
    return value


def _text_lxml(value: str) -> str:
    return _apos(value).replace("&quot;", '"')


def _attr(value: str) -> str:
    _guard(value, "an HTML attribute")
    if '"' in value:
        raise NeedsFallback('a value in an attribute contains a raw "; rendered in full.')
    return value


def _attr_mrml(value: str) -> str:
    # MRML writes attribute values Rust-escaped: "\n" for a newline, "\u{a0}"
    # for a no-break space. Only printable characters pass unchanged.
    if _MRML_ASCII.fullmatch(value):
        return value
    # Python's isprintable() and Rust's escape_debug agree on the categories
    # (controls, format characters, separators other than " " are escaped);
    # MRML also escapes combining marks.
    if not value.isprintable() or _MRML_QUOTES.search(value) or _marks().search(value):
        raise NeedsFallback(_MRML_REASON)
    return value


@functools.cache  # 0.2 s to build: only once a non-ASCII attribute value shows up
def _marks() -> re.Pattern[str]:
    """A character class of every combining mark (Mn, Mc, Me), which MRML escapes."""
    ranges: list[str] = []
    start = prev = -2
    for code in range(0x300, 0x110000):
        if unicodedata.category(chr(code)).startswith("M"):
            if code != prev + 1:
                if start >= 0:
                    ranges.append(f"\\U{start:08x}-\\U{prev:08x}")
                start = code
            prev = code
    ranges.append(f"\\U{start:08x}-\\U{prev:08x}")
    return re.compile("[" + "".join(ranges) + "]")



# Printable ASCII except the quotes and backslash Rust escapes.
_MRML_ASCII = re.compile(r"[\x20\x21\x23-\x26\x28-\x5b\x5d-\x7e]*")
_MRML_QUOTES = re.compile(r"[\\'\"]")
_MRML_REASON = (
    "a value in an MJML attribute has a character MRML escapes (tab, newline, "
    "backslash, invisible spaces…); this message was rendered in full."
)


def _attr_lxml(value: str) -> str:
    if "&quot;" in value:
        # lxml switches the attribute to single quotes: not a local change.
        raise NeedsFallback('a value in an attribute contains "; rendered in full.')
    return _apos(value)


def _url(value: str) -> str:
    _attr(value)
    if "javascript" in value.lower():
        raise NeedsFallback("a URL value contains 'javascript'; rendered in full.")
    return value


def _url_lxml(value: str) -> str:
    if not _PLAIN_URL.fullmatch(value):
        raise NeedsFallback(
            "a URL value has characters premailer would percent-encode (spaces, "
            "quotes, non-ASCII); this message was rendered in full."
        )
    return _apos(value)


def _t_text(value: str) -> str:
    _guard(value, "text")
    return _WHITESPACE.sub(" ", html.unescape(value))


def _t_url(value: str) -> str:
    _guard(value, "a link")
    return html.unescape(value)


# Per spot: the check every value gets, then what MRML and lxml do, in order.
_STEPS: dict[str, tuple[Callable[[str], str], ...]] = {
    "ht": (_text,), "htx": (_text_lxml,),
    "ha": (_attr,), "ham": (_attr_mrml,), "hax": (_attr_lxml,),
    "hu": (_url,), "hum": (_attr_mrml,), "hux": (_url_lxml,),
}


def transform(code: str) -> Callable[[str], str]:
    """The value mapping for ``code``: part+spot ("ht", "hu", "tt"…) and chain.

    The chain is ``m`` (MRML wrote the final HTML), ``x`` (premailer/lxml did)
    or ``mx`` (both, in that order): ``"hu-mx"``.
    """
    spot, _, chain = code.partition("-")
    if spot[0] == "t":
        return _t_url if spot == "tu" else _t_text
    steps = list(_STEPS[spot])
    steps += [_STEPS[spot + stage][0] for stage in chain if spot + stage in _STEPS]
    # Most values are plain: a value every step leaves unchanged skips them.
    plain = _PLAIN[spot[1]].fullmatch

    def run(value: str) -> str:
        if plain(value) and (spot != "hu" or "javascript" not in value.lower()):
            return value
        for step in steps:
            value = step(value)
        return value

    return run


# Values that pass every step of a spot unchanged: text without markup,
# entities or control characters; printable ASCII without quotes, backslash,
# "&", "<", ">" in attributes; URL characters libxml2 leaves alone.
_PLAIN = {
    "t": re.compile(
        "[^<>&\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]*"
    ),
    "a": re.compile(r"[\x20\x21\x23-\x25\x28-\x3b\x3d\x3f-\x5b\x5d-\x7e]*"),
    "u": re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$()*+,;=%|^]*"),
}


class OutNode(Node):
    """Any output tag: render it as the HTML part would, then map the value.

    ``escape`` is the engine's autoescape: what the per-message pipeline's HTML
    held. The text part renders with autoescape off but must start from that.
    """

    def __init__(
        self, nodelist: NodeList, transform: Callable[[str], str], escape: bool
    ) -> None:
        self.nodelist = nodelist
        self.transform = transform
        self.escape = escape

    def render(self, context) -> str:  # type: ignore[no-untyped-def]
        saved = context.autoescape
        context.autoescape = self.escape
        try:
            value = self.nodelist.render(context)
        finally:
            context.autoescape = saved
        return self.transform(str(value))


class HtmlVarNode(Node):
    """``{{ var }}`` in the HTML part: Django's own rendering, then the mapping."""

    def __init__(self, node: VariableNode, transform: Callable[[str], str]) -> None:
        self.node = node
        self.transform = transform

    def render(self, context) -> str:  # type: ignore[no-untyped-def]
        return self.transform(self.node.render(context))


class TextVarNode(Node):
    """``{{ var }}`` in the text part, without escaping only to unescape again.

    Same steps as ``VariableNode`` + ``render_value_in_context`` (filters see
    autoescape on, as in the HTML part), then: a safe string is what the HTML
    part held (checked and unescaped); any other string is the text itself.
    """

    def __init__(self, node: VariableNode, escape: bool) -> None:
        self.node = node
        self.filter_expression = node.filter_expression
        self.escape = escape

    def render(self, context) -> str:  # type: ignore[no-untyped-def]
        saved = context.autoescape
        context.autoescape = self.escape
        try:
            value = self.filter_expression.resolve(context)
        except UnicodeDecodeError:
            return ""  # as VariableNode
        finally:
            context.autoescape = saved
        value = localize(template_localtime(value, use_tz=context.use_tz),
                         use_l10n=context.use_l10n)
        if not issubclass(type(value), str):
            value = str(value)
        if isinstance(value, SafeData) or not self.escape:
            return _t_text(str(value))
        match = _CONTROL.search(value)
        if match:
            raise NeedsFallback(
                f"a value contains {match.group(0)!r}, which the full pipeline "
                "would parse; this message was rendered in full."
            )
        return _WHITESPACE.sub(" ", value)


_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
)


@register.tag("txmail_out")
def do_out(parser: Parser, token) -> Node:  # type: ignore[no-untyped-def]
    code = token.split_contents()[1]
    nodelist = parser.parse(("endtxmail_out",))
    parser.delete_first_token()
    escape = not code.endswith("-raw")  # "-raw": the engine doesn't autoescape
    code = code.removesuffix("-raw")
    if len(nodelist) == 1 and type(nodelist[0]) is VariableNode:
        if code.startswith("tt"):
            return TextVarNode(nodelist[0], escape)
        if code.startswith("h"):  # the HTML part renders with the engine's setting
            return HtmlVarNode(nodelist[0], transform(code))
    return OutNode(nodelist, transform(code), escape)


class LinkNode(Node):
    """A link in the derived text: ``text (url)`` decided per message, as text.py does."""

    def __init__(self, text: NodeList, href: NodeList, images: bool) -> None:
        self.text, self.href, self.images = text, href, images

    def render(self, context) -> str:  # type: ignore[no-untyped-def]
        text = " ".join(self.text.render(context).split())
        href = self.href.render(context).strip()
        if not href or href.startswith(("#", "javascript:")):
            return text  # text.py unwraps such links
        if not text and self.images:
            # text.py then reads the link as its images' alt text, which this
            # compiled link doesn't have: render the message in full.
            raise NeedsFallback("a link's text is empty for this message; rendered in full.")
        return link_text(text, href)


@register.tag("txmail_link")
def do_link(parser: Parser, token) -> LinkNode:  # type: ignore[no-untyped-def]
    images = token.split_contents()[1:] == ["images"]
    text = parser.parse(("txmail_href",))
    parser.delete_first_token()
    href = parser.parse(("endtxmail_link",))
    parser.delete_first_token()
    return LinkNode(text, href, images)


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

    def __init__(self, engine, builtins) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.template_builtins = builtins

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.engine, name)
