"""Whether a text-part value's edge spaces survive html2text where it stands.

html2text collapses each whitespace run of a text node to one space, drops a
node's leading space at the start of a line (or of a list item) and keeps its
trailing space. A value is part of the text node around it in the per-message
pipeline, so ``"Value: {{ v }}"`` with ``v = " Ann"`` reads "Value: Ann", while
``"<b>Value: </b>{{ v }}"`` keeps both spaces. The compiled text part is cut at
the value and can't see that; so, once per template, the HTML is converted again
with a space before every text value's placeholder, and again with one after,
and each placeholder shows whether html2text kept that space. The runtime then
applies the answer per message (``values.resolve_edges``).
"""

import re
from collections.abc import Callable

from .onepass import Piece
from .protect import Protector
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
