"""Merge the compiled HTML and text templates into one that renders both in one pass.

Rendering the HTML and then the text template evaluates every loop, condition
and value twice, though the text part only repeats what the HTML holds. The
one-pass template is the HTML template with the text part's pieces set in
``{% txmail_text %}`` blocks: each text segment (the text between two block
tags) goes right before the HTML's copy of the block tag that ends it, and its
values read what the HTML's output tags rendered (``{% txmail_value %}``).

That is exact because the verifier has already proved, for both parts, that
block tags keep their source order and every value stays between the block tags
it has in the source. The text part's block tags are then the HTML's minus
whole groups the text doesn't show (an ``{% if %}`` in ``<head>``), which render
nothing into the text either way; and each text value's HTML copy renders
before its segment, in the same loop iteration. Text values never resolve
anything themselves, so what the context holds when a segment renders doesn't
matter (an assignment in a hidden preheader, say).
"""

from dataclasses import dataclass

from .flatten import Unprecompilable


@dataclass(frozen=True)
class Piece:
    """One piece of a compiled template's source, in output order."""

    kind: str  # "static" | "out" | "block" | "link" | "mark" (see heads)
    source: str  # template source; for "out", the original output tag
    unit: int | None = None
    code: str = ""  # "out": the value mapping (see values.transform)

    def render(self, store_as: int | None = None) -> str:
        """The template source; an output tag given ``store_as`` keeps its value."""
        if self.kind != "out":
            return self.source
        label = self.code if store_as is None else f"{self.code} {store_as}"
        return f"{{% txmail_out {label} %}}{self.source}{{% endtxmail_out %}}"


def join(pieces: list[Piece]) -> str:
    """The template as the pieces are: each output tag renders where it stands."""
    return "".join(piece.render() for piece in pieces)


def html_only(html: list[Piece]) -> str:
    """The HTML template for the runtime: a value repeated between two block tags
    (MRML copies ``<mj-title>`` into ``aria-label``…) renders once and is reused."""
    return _html(html, shown=set(), text_blocks=[], segments=[[]])


def one_pass(html: list[Piece], text: list[Piece]) -> str:
    """The one-pass template's source: HTML and text part."""
    html_blocks = [p.unit for p in html if p.kind == "block"]
    text_blocks = [p.unit for p in text if p.kind == "block"]
    remaining = iter(html_blocks)
    if not all(block in remaining for block in text_blocks):  # verify.py rules it out
        raise Unprecompilable("the text part's block tags aren't the HTML's, in order.")
    segments: list[list[Piece]] = [[]]
    for piece in text:
        if piece.kind == "block":
            segments.append([])
        else:
            segments[-1].append(piece)
    shown = {p.unit for p in text if p.kind == "out" and p.unit is not None}
    return _html(html, shown, text_blocks, segments)


def _html(
    html: list[Piece], shown: set[int], text_blocks: list[int | None],
    segments: list[list[Piece]],
) -> str:
    """The HTML pieces with each text segment before the block tag that ends it."""
    repeated = _repeated(html)
    out: list[str] = []
    index = 0  # the next text block tag
    seen: set[int | None] = set()  # output tags since the last block tag
    for piece in html:
        if piece.kind == "block":
            seen.clear()
            if index < len(text_blocks) and piece.unit == text_blocks[index]:
                out.append(_segment(segments[index]))
                index += 1
        if piece.kind == "out" and piece.unit in seen:
            out.append(_value(piece))
            continue
        seen.add(piece.unit)
        keep = piece.unit in shown or piece.unit in repeated
        out.append(piece.render(piece.unit if keep else None))
    out.append(_segment(segments[index]))
    return "".join(out)


def _repeated(html: list[Piece]) -> set[int | None]:
    """Output tags that appear twice or more between the same two block tags."""
    repeated: set[int | None] = set()
    seen: set[int | None] = set()
    for piece in html:
        if piece.kind == "block":
            seen.clear()
        elif piece.kind == "out":
            if piece.unit in seen:
                repeated.add(piece.unit)
            seen.add(piece.unit)
    return repeated


def _value(piece: Piece) -> str:
    return f"{{% txmail_value {piece.code.removesuffix('-raw')} {piece.unit} %}}"


def _segment(pieces: list[Piece]) -> str:
    body = "".join(_value(p) if p.kind == "out" else p.source for p in pieces)
    return f"{{% txmail_text %}}{body}{{% endtxmail_text %}}" if body else ""
