"""Whether a text-part value's edge spaces survive html2text where it stands.

html2text collapses each whitespace run of a text node to one space, drops a
node's leading space at the start of a line (or of a list item) and keeps its
trailing space. A value is part of the text node around it in the per-message
pipeline, so ``"Value: {{ v }}"`` with ``v = " Ann"`` reads "Value: Ann", while
``"<b>Value: </b>{{ v }}"`` keeps both spaces. The compiled text part is cut at
the value and can't see that; so, once per template, the HTML is converted again
with a space before every text value's placeholder, and again with one after,
and each placeholder shows whether html2text kept that space. The runtime then
applies the answer per message (``resolve_edges``, below).
"""

import re
from collections.abc import Callable

from .onepass import Piece
from .protect import Protector
from .values import NeedsFallback
from .verify import Spot

# What html2text does with a value's edge space: kept before it, kept after it.
Flags = tuple[bool, bool]

_LI_START = re.compile(r"<li\b[^<>]*>$", re.IGNORECASE)


def annotate_html(pieces: list[Piece]) -> list[Piece]:
    """The HTML part's ``pieces`` with ":e" on values that are all an ``<li>`` holds.

    libxml2 writes an empty ``<li>`` without its end tag, which changes how
    html2text reads the list: where lxml wrote the final HTML, such a value
    renders in full when it is empty.
    """
    out = list(pieces)
    for index, piece in enumerate(pieces[1:-1], start=1):
        spot, _, chain = piece.code.partition("-")
        if (
            piece.kind == "out" and spot in ("ht", "hb") and "x" in chain
            and _LI_START.search(pieces[index - 1].source)
            and pieces[index + 1].source[:4].lower() == "</li"
        ):
            out[index] = Piece(piece.kind, piece.source, piece.unit, _flagged(piece.code, "e"))
    return out


def _flagged(code: str, flags: str) -> str:
    """``code`` with ``flags`` after it, before a final "-raw" (onepass removes that)."""
    base = code.removesuffix("-raw")
    return f"{base}:{flags}{code[len(base):]}"


def annotate(
    pieces: list[Piece], html: str, html_spots: list[Spot], text: str, prot: Protector,
    to_text: Callable[[str], str], text_pattern: re.Pattern[str],
) -> list[Piece]:
    """The text part's ``pieces`` with each text value's code carrying its flags.

    ``to_text`` is the compiler's HTML → text step. A value whose flags can't be
    measured keeps its code: the runtime then refuses edges next to a space.
    """
    measured = _measure(html, html_spots, text, prot, to_text, text_pattern)
    if measured is None:
        return pieces
    out: list[Piece] = []
    values = iter(measured)
    for index, piece in enumerate(pieces):
        if piece.kind == "out":
            found = next(values, None)
            if (
                found is not None and piece.code.startswith(("tt", "tb"))
                and _static_next_to(pieces, index)
            ):
                flags = "".join("ny"[flag] for flag in found)
                piece = Piece(piece.kind, piece.source, piece.unit, _flagged(piece.code, flags))
        out.append(piece)
    return out


def _static_next_to(pieces: list[Piece], index: int) -> bool:
    """Whether text written in the template touches the value on both sides.

    A block tag's or another value's placeholder next to it was text to
    html2text but renders as something else (or nothing): there the
    measurement says nothing.
    """
    before, after = pieces[index - 1:index], pieces[index + 1:index + 2]
    return all(
        not side or (side[0].kind == "static" and (side[0].source or edge))
        for side, edge in ((before, index == 1), (after, index == len(pieces) - 2))
    )


def _measure(
    html: str, html_spots: list[Spot], text: str, prot: Protector,
    to_text: Callable[[str], str], text_pattern: re.Pattern[str],
) -> list[Flags] | None:
    """Flags of every value placeholder of ``text``, in order; None if unmeasurable."""
    matches = list(prot.pattern.finditer(html))
    if len(matches) != len(html_spots):
        return None
    text_values = [
        match for match, (unit_id, where) in zip(matches, html_spots, strict=True)
        if where in ("text", "lines") and prot.units[unit_id].kind == "out"
    ]
    try:
        before = to_text(_pad(html, text_values, " {}"))
        after = to_text(_pad(html, text_values, "{} "))
    except Exception:  # a probe that fails only costs exactness: fall back per message
        return None
    base_values = _values(text, prot, text_pattern)
    before_values = _values(before, prot, text_pattern)
    after_values = _values(after, prot, text_pattern)
    if not (
        [m.group(0) for m in base_values] == [m.group(0) for m in before_values]
        == [m.group(0) for m in after_values]
    ):
        return None  # the probe changed the text's structure: don't guess
    return [
        (_spaces_before(before, b) > _spaces_before(text, m),
         _spaces_after(after, a) > _spaces_after(text, m))
        for m, b, a in zip(base_values, before_values, after_values, strict=True)
    ]


def _pad(html: str, matches: list[re.Match[str]], form: str) -> str:
    pieces = []
    last = 0
    for match in matches:
        pieces.append(html[last:match.start()])
        pieces.append(form.format(match.group(0)))
        last = match.end()
    pieces.append(html[last:])
    return "".join(pieces)


def _values(text: str, prot: Protector, text_pattern: re.Pattern[str]) -> list[re.Match[str]]:
    """The value placeholders of a derived text (not block tags or link markers)."""
    return [
        m for m in text_pattern.finditer(text)
        if m.group(1) is not None and prot.units[int(m.group(1))].kind == "out"
    ]


def _spaces_before(text: str, match: re.Match[str]) -> int:
    start = match.start()
    return start - len(text[:start].rstrip(" "))


def _spaces_after(text: str, match: re.Match[str]) -> int:
    end = match.end()
    return len(text[end:]) - len(text[end:].lstrip(" "))


# -- at render time ---------------------------------------------------------------

# A text-part value that is empty or starts or ends with a space sits between
# marks until the whole text is rendered: html2text collapses whitespace across
# a text node, so such a value's edges depend on its neighbours
# (``resolve_edges``). The start mark also says what the compiler measured
# there (``annotate``): whether html2text keeps a space before the value, after
# it ("y"/"n"), or unknown. Rendered text never holds the marks: they are
# XML_INVALID, dropped from values and templates.
EDGE_END = "\x01"
_EDGE_START = {"": "\x00", "nn": "\x10", "ny": "\x11", "yn": "\x12", "yy": "\x13"}
_FLAGS = {mark: flags for flags, mark in _EDGE_START.items()}
# Characters the HTML holds as entities (and html2text reads as their own node).
_ENTITIES = frozenset("&<>\"'")
_MARKED = re.compile("([\x00\x10-\x13])([^\x00\x01\x10-\x13]*)\x01")
_EDGE_REASON = (
    "a value in the text part starts or ends with whitespace, or is empty, next to a "
    "space html2text may or may not merge it with; this message was rendered in full."
)


def refusing_empty(mapping: Callable[[str], str]) -> Callable[[str], str]:
    """``mapping`` for a value that is all an ``<li>`` holds (``edges.annotate_html``)."""

    def run(value: str) -> str:
        out = mapping(value)
        if not out:
            raise NeedsFallback(EMPTY_LI_REASON)
        return out

    return run


EMPTY_LI_REASON = (
    "an empty value is all an <li> holds, whose end tag lxml then leaves out; this "
    "message was rendered in full."
)


def mark_edges(value: str, flags: str) -> str:
    """``value`` (a mapped text-part value), marked if its edges need its neighbours.

    ``flags``: "yn"-style, whether a space before/after the value is kept at this
    spot, or "" when unknown.
    """
    if value and value[0] != " " and value[-1] != " ":
        return value
    return _EDGE_START[flags] + value + EDGE_END


def unmark(text: str) -> str:
    """``text`` without edge marks (a link's text: text.py normalises its spaces)."""
    if EDGE_END not in text:
        return text
    return _MARKED.sub(lambda m: m.group(2), text)


def resolve_edges(text: str) -> str:
    """The rendered text part with each marked value's edges as html2text writes them.

    A value's edge space stays where the compiler measured that html2text keeps
    one; an empty value lets the spaces around it merge where they are one text
    node's. Where that is unknown, a space next to a space renders the message
    in full (``NeedsFallback``).
    """
    if EDGE_END not in text:
        return text
    parts = _MARKED.split(text)  # static, mark, value, static, mark, value, …, static
    out: list[str] = []
    last = ""  # the last character written
    last_static = True  # …and whether a static piece wrote it
    drop_space = False  # drop the next static piece's leading space
    for index in range(0, len(parts), 3):
        static = parts[index]
        if drop_space and static.startswith(" "):
            static = static[1:]
        drop_space = False
        if static:
            out.append(static)
            last, last_static = static[-1], True
        if index + 1 == len(parts):
            break
        value = parts[index + 2]
        following = parts[index + 3][:1]
        if not following and index + 4 < len(parts):
            following = "\x00"  # another value comes first
        value, drop_space = _edges(value, _FLAGS[parts[index + 1]], last, last_static, following)
        if not value and following in ("\n", "") and _after_marker(out):
            # html2text writes a list item's or quote's marker, then drops the
            # next line break if nothing follows in the item: not a local change.
            raise NeedsFallback(_EDGE_REASON)
        if value:
            out.append(value)
            last, last_static = value[-1], False
    return "".join(out)


_MARKER_LINE = re.compile(r" *(?:> ?)*(?:(?:[*+-]|\d+\.) )?")


def _after_marker(out: list[str]) -> bool:
    """Whether the line written so far is only a list or quote marker."""
    written = "".join(out)
    line = written[written.rfind("\n") + 1:]
    return line.strip() != "" and _MARKER_LINE.fullmatch(line) is not None


def _edges(
    value: str, flags: str, before: str, before_static: bool, after: str
) -> tuple[str, bool]:
    """One marked value: ``(its text, whether the space after it goes)``.

    ``after`` is the next static character ("\x00": a value comes first).
    """
    line_start = before in ("", "\n")
    core = value.strip(" ")
    if core and value[-1] == " " and core[-1] in _ENTITIES:
        # html2text reads the spaces after an entity (&lt;) as a text node of
        # their own, held back for the next text: not what the flags measured.
        raise NeedsFallback(_EDGE_REASON)
    if not flags or not before_static or after == "\x00":
        # Unknown: only what holds in any text node.
        if core:
            lead = value[0] == " " and not line_start
            trail = value[-1] == " "
            if (lead and before == " ") or (trail and after in (" ", "\x00")):
                raise NeedsFallback(_EDGE_REASON)
            return " " * lead + core + " " * trail, False
        if after in (" ", "\x00") and (line_start or before == " " or value):
            raise NeedsFallback(_EDGE_REASON)
        if value and before == " ":
            raise NeedsFallback(_EDGE_REASON)
        return ("" if line_start else value), False
    keep_before, keep_after = flags[0] == "y", flags[1] == "y"
    if core:
        lead = value[0] == " " and keep_before
        trail = value[-1] == " " and keep_after
        return " " * lead + core + " " * trail, False
    if value and keep_before and keep_after:
        # Spaces in a text node of their own: html2text holds one space back for
        # the next text, merged with that text's leading space, and drops it at
        # the start or the end of a line.
        kept = "" if line_start or after in ("\n", "") else " "
        return kept, after == " "
    # A space after the value that html2text would merge (keep_after is False:
    # the same text node) goes when the value was all that kept it from the
    # space or line start before it.
    merges = after == " " and not keep_after and not keep_before
    return "", merges and (line_start or before == " ")
