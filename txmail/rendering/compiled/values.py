"""What the full pipeline would make of a rendered value at a spot of the compiled output.

A compiled template outputs each value where the per-message pipeline would
have had it. Django renders the value exactly as in that pipeline (autoescaped
``S``); a *mapping* then gives what MRML, premailer (lxml) and html2text would
have made of ``S`` at that spot. The mapping is only applied where it is exact —
values made of ordinary characters. Characters XML can't carry are dropped
first, as the pipeline drops them from the markup (``compile.XML_INVALID``).
Anything else (markup from ``|safe``, other control characters, a ``"`` in an
attribute premailer would re-quote, non-ASCII in a URL libxml2 would
percent-encode…) raises ``NeedsFallback`` and that one message renders through
the per-message pipeline.

Codes (see ``transform``): ``h`` (HTML part) or ``t`` (text part); then the
spot: ``t`` text node, ``b`` text node that may hold ``|linebreaksbr`` lines,
``a`` attribute, ``u`` URL attribute; after a dash the
tools that wrote the final HTML: ``m`` MRML, ``x`` premailer (lxml), ``mx`` both.
The runtime tags also accept flags after a colon (``edges``): ``tt-m:yn``
(html2text keeps a space before this text value, not after it) and ``ht-x:e``
(the value is all an ``<li>`` holds).
"""

import html
import re
from collections.abc import Callable

from ..markup import XML_INVALID, drop_xml_invalid


class NeedsFallback(Exception):
    """This message's values can't use the compiled template; render it in full."""

    silent_variable_failure = False  # Django must not swallow it into ""


# Characters parsers drop or rewrite: C0/C1 controls (but tab and newline), CR,
# surrogates, noncharacters.
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
# Markup (from |safe), entities Django's escape() never writes, and _CONTROLS.
_UNSAFE = re.compile(
    f"[<>{_CONTROLS}]"
    r"|&(?!(?:amp|lt|gt|quot|#x27|#39);)"
)
# URL characters libxml2's serializer leaves as they are (no space, no quotes,
# no non-ASCII, no "{" which it treats specially after "&").
_PLAIN_URL = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$()*+,;=%|^]|&amp;|&#x27;|&#39;)*")
_WHITESPACE = re.compile(r"\s+")  # html2text's own collapsing regex
CONTROL = re.compile(f"[{_CONTROLS}]")


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
    # MRML writes attribute values Rust-escaped and compile.repair_attributes
    # turns them back: the value comes out as it went in. Tabs and newlines are
    # refused all the same, for how later steps would treat them is untested.
    if "\n" in value or "\t" in value:
        raise NeedsFallback(
            "a value in an MJML attribute holds a tab or newline; this message was "
            "rendered in full."
        )
    return value


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


def text_of(value: str) -> str:
    """The text part's form of ``S`` in an HTML text node (html2text's view of it)."""
    if "&" not in value and _PLAIN["t"].fullmatch(value):
        return _WHITESPACE.sub(" ", value)
    value = drop_xml_invalid(value)
    _guard_text(value, "text")
    return _WHITESPACE.sub(" ", _unescape(value))


def url_of(value: str) -> str:
    """The text part's form of ``S`` as a link's URL."""
    value = drop_xml_invalid(value)
    _guard_text(value, "a link")
    return _unescape(value)


def _guard_text(value: str, where: str) -> None:
    _guard(value, where)
    if "&amp;nbsp_place_holder;" in value:  # html2text's own stand-in for &nbsp;
        raise NeedsFallback(f"a value in {where} spells html2text's no-break space marker.")


def _unescape(value: str) -> str:
    """``html.unescape`` of a value that passed ``_guard``.

    Its only entities are the five Django's escape() writes, each "&" starts
    one, so replacing them ("&amp;" last) is exact, and much faster.
    """
    if "&" not in value:
        return value
    return (
        value.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
        .replace("&#x27;", "'").replace("&#39;", "'").replace("&amp;", "&")
    )


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
    if spot == "tb":
        return _lines(text_of, "\n")
    if spot[0] == "t":
        return url_of if spot == "tu" else text_of
    if spot == "hb":  # MRML writes <br />, lxml <br>
        return _lines(transform("ht-" + chain), "<br />" if chain == "m" else "<br>")
    steps = list(_STEPS[spot])
    steps += [_STEPS[spot + stage][0] for stage in chain if spot + stage in _STEPS]
    # Most values are plain: a value every step leaves unchanged skips them.
    plain = _PLAIN[spot[1]].fullmatch

    def run(value: str) -> str:
        if plain(value) and (spot != "hu" or "javascript" not in value.lower()):
            return value
        if XML_INVALID.search(value):
            value = drop_xml_invalid(value)
        for step in steps:
            value = step(value)
        return value

    return run


def from_raw(code: str) -> Callable[[str], tuple[str, str] | None] | None:
    """For a raw (not safe) string: ``(output, S)`` without escaping then mapping.

    The same result as Django's escape() followed by ``transform(code)``, for
    the common values that hold "&" or quotes in text and "&" in URLs. None
    (from the returned function): not such a value; None (returned): no short
    cut for this spot.
    """
    spot, _, chain = code.partition("-")
    if spot in ("ht", "hb"):  # a raw string holds no <br>: escaping makes it &lt;br&gt;
        lxml = "x" in chain  # lxml writes quotes literally in text

        def text(value: str) -> tuple[str, str] | None:
            if CONTROL.search(value):
                return None
            escaped = html.escape(value)
            return (html.escape(value, quote=False) if lxml else escaped), escaped

        return text
    if spot == "hu":

        def url(value: str) -> tuple[str, str] | None:
            if not _URL_AMP.fullmatch(value) or "javascript" in value.lower():
                return None
            escaped = value.replace("&", "&amp;")
            return escaped, escaped  # MRML and libxml2 keep "&amp;" in a URL

        return url
    return None


_URL_AMP = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$()*+,;=%|^&]*")


# |linebreaksbr output the compiler proved local (verify.line_break_units):
# lines joined by single <br>, none empty, none starting or ending with
# whitespace (html2text would drop it at the break).
_LINES = re.compile(r"[^<>\s](?:[^<>]*[^<>\s])?(?:<br>[^<>\s](?:[^<>]*[^<>\s])?)+")


def _lines(line: Callable[[str], str], br: str) -> Callable[[str], str]:
    """Map each line of a ``<br>``-separated value with ``line``, joined by ``br``."""

    def run(value: str) -> str:
        if XML_INVALID.search(value):  # before looking at where lines start and end
            value = drop_xml_invalid(value)
        if "<br>" in value and _LINES.fullmatch(value):
            return br.join(line(part) for part in value.split("<br>"))
        return line(value)

    return run


def unescaped_plain(code: str) -> Callable[[str], object]:
    """A test for raw strings that Django's escaping and ``transform(code)`` keep as they are.

    Such a value needs neither: the compiled template outputs it directly.
    """
    spot = code.partition("-")[0]
    match = _RAW_PLAIN[spot[1]].fullmatch
    if spot == "hu":
        return lambda value: match(value) and "javascript" not in value.lower()
    return match


# Values that pass every step of a spot unchanged: text without markup,
# entities or control characters; printable ASCII without quotes, backslash,
# "&", "<", ">" in attributes; URL characters libxml2 leaves alone.
_PLAIN = {
    "t": re.compile(f"[^<>&{_CONTROLS}]*"),
    "a": re.compile(r"[\x20\x21\x23-\x25\x28-\x3b\x3d\x3f-\x5b\x5d-\x7e]*"),
    "u": re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$()*+,;=%|^]*"),
}
_PLAIN["b"] = _PLAIN["t"]
# The same, also unchanged by Django's escape() (no quotes either).
_RAW_PLAIN = {
    "t": re.compile(f"[^<>&\"'{_CONTROLS}]*"),
    "a": _PLAIN["a"],
    "u": _PLAIN["u"],
}
_RAW_PLAIN["b"] = _RAW_PLAIN["t"]
