"""Text directly inside MJML's containers, dropped as the official compiler drops it.

mjml-js keeps the content of its *ending tags* (``<mj-text>``, ``<mj-button>``,
``<mj-table>``, ``<mj-raw>``…) as HTML and nothing else: text written
directly inside ``<mj-body>``, ``<mj-wrapper>``, ``<mj-section>``,
``<mj-group>``, ``<mj-column>``, ``<mj-hero>``, ``<mj-navbar>``… (a stray word
after ``</mj-column>``, a ``{{ name }}`` outside any ``<mj-text>``) never
reaches its HTML. MRML puts some of it in the HTML and refuses the rest ("unexpected
token"). Both per-message and compiled rendering drop it here, before MRML reads
the document, and say where it was (``MJMLDroppedText``).

Found by running mjml 4.18 and 5.4 on each element (tests/test_mjml_conformance.py
runs them on a corpus).
"""

import bisect
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from ..exceptions import MJMLDroppedText
from . import mjml_tags


class Prepared(Protocol):
    """What ``drop`` reads and changes of ``mjml_source.Prepared``."""

    text: str
    anchors: list[tuple[int, str, int, str]]
    dropped: list["Dropped"]
    container_tokens: list[tuple[str, str]]

    def where(self, position: int) -> tuple[str, int]: ...

# Elements whose content mjml-js keeps (as HTML, or as the head's text/CSS).
ENDING = frozenset({
    "mj-text", "mj-button", "mj-table", "mj-raw", "mj-navbar-link", "mj-social-element",
    "mj-accordion-title", "mj-accordion-text", "mj-title", "mj-preview", "mj-style",
    "mj-html-attribute",
})
_TOKEN = re.compile(
    r"<!--.*?-->"
    r"|<(/?)(mj-[\w-]+|mjml)\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>",
    re.IGNORECASE | re.DOTALL,
)

_BROKEN = re.compile(r"</?mj(?:-|ml)", re.IGNORECASE)


@dataclass(frozen=True)
class Dropped:
    """Text that stood directly inside a container element."""

    origin: str
    line: int
    element: str
    text: str

    def problem(self, template: str, *, quoted: bool = True) -> str:
        """What is wrong and the fix; ``quoted=False`` leaves the text out (it may
        hold a recipient's values)."""
        where = f"line {self.line}" if self.origin in ("", template) else (
            f"line {self.line} of '{self.origin}'")
        shown = " ".join(self.text.split())
        if len(shown) > 40:
            shown = shown[:37] + "..."
        what = f"the text {shown!r}" if quoted else "text"
        return (f"MJML template '{template}' ({where}): {what} stands directly inside "
                f"<{self.element}>, where MJML drops it (mjml-js does too). Put it in an "
                "<mj-text>, or remove it.")


def drop(prepared: Prepared, placeholder: "re.Pattern[str] | None" = None) -> None:
    """Remove container text from ``prepared.text``; record it in ``prepared.dropped``.

    With ``placeholder`` (the precompiler's stand-ins for Django tags) the
    stand-ins are kept, in ``prepared.container_tokens``: the precompiler
    decides whether a tag may stand there.
    """
    text = prepared.text
    cuts: list[tuple[int, int]] = []
    stack: list[str] = []
    last = 0
    position = 0
    while True:
        match = _TOKEN.search(text, position)
        end = match.start() if match else len(text)
        if stack and stack[-1] not in ENDING and end > last:
            _cut(prepared, text, last, end, stack[-1], placeholder, cuts)
        if match is None:
            break
        position = last = match.end()
        if match.group(2) is None:  # a comment: mjml-js keeps it
            continue
        closing, name = match.group(1), match.group(2).lower()
        if closing:
            if name in stack:
                while stack.pop() != name:
                    pass
            continue
        if match.group(3).rstrip().endswith("/"):
            continue
        if name in ENDING or not mjml_tags.is_known(name):  # unknown: E011 / MJMLError
            close = re.compile(rf"</{re.escape(name)}\s*>", re.IGNORECASE)
            found = close.search(text, match.end())
            position = last = found.end() if found else len(text)
            continue
        stack.append(name)
    if cuts:
        _apply(prepared, cuts)


def _cut(
    prepared: Prepared, text: str, start: int, end: int, element: str,
    placeholder: "re.Pattern[str] | None", cuts: list[tuple[int, int]],
) -> None:
    """Cut the non-blank text of ``text[start:end]``, keeping stand-ins."""
    pieces = [(start, end)]
    if placeholder is not None:
        pieces = []
        at = start
        for token in placeholder.finditer(text, start, end):
            prepared.container_tokens.append((token.group(0), element))
            pieces.append((at, token.start()))
            at = token.end()
        pieces.append((at, end))
    for a, b in pieces:
        piece = text[a:b]
        if not piece.strip() or _BROKEN.search(piece):
            continue  # blank; or a tag the scanner couldn't read, which MRML reports
        lead = len(piece) - len(piece.lstrip())
        tail = len(piece.rstrip())
        origin, line = prepared.where(a + lead)
        prepared.dropped.append(Dropped(origin, line, element, piece.strip()))
        cuts.append((a + lead, a + tail))


def _apply(prepared: Prepared, cuts: list[tuple[int, int]]) -> None:
    """Remove ``cuts`` from the text, moving the anchors that map it to files."""
    text = prepared.text
    starts = [c[0] for c in cuts]
    removed = [0]
    for a, b in cuts:
        removed.append(removed[-1] + b - a)

    def moved(offset: int) -> int:
        index = bisect.bisect_right(starts, offset) - 1
        if index < 0:
            return offset
        a, b = cuts[index]
        return a - removed[index] if offset < b else offset - removed[index + 1]

    anchors = [(moved(o), file, offset, source) for o, file, offset, source in prepared.anchors]
    for _, b in cuts:  # the text after a cut is found in its file again
        index = bisect.bisect_right([a[0] for a in prepared.anchors], b) - 1
        if index >= 0:
            o, file, offset, source = prepared.anchors[index]
            anchors.append((moved(b), file, offset + b - o, source))
    anchors.sort(key=lambda anchor: anchor[0])
    pieces = []
    last = 0
    for a, b in cuts:
        pieces.append(text[last:a])
        last = b
    pieces.append(text[last:])
    prepared.text = "".join(pieces)
    prepared.anchors = anchors


def warn(prepared: Prepared, template: str, *, quoted: bool = True,
         written: list[Dropped] | None = None) -> None:
    """One ``MJMLDroppedText`` warning per piece of text ``drop`` removed.

    A rendered message's text isn't quoted (``quoted=False``): it may hold the
    recipient's values, and each message would warn anew. ``written`` is the
    template's own container text (``in_source``), where the rendered pieces
    are looked up (``written_at``).
    """
    found = prepared.dropped if written is None else written_at(
        prepared.dropped, written, template)
    for dropped in found:
        warnings.warn(MJMLDroppedText(dropped.problem(template, quoted=quoted)), stacklevel=2)


def written_at(rendered: list[Dropped], written: list[Dropped], template: str
               ) -> list[Dropped]:
    """``rendered``'s pieces at the file and line of the source that wrote them.

    A rendered body's lines aren't its source's (a child rendered into its
    base, a value over several lines). Within one element, the one piece
    written there, or the k-th of as many as were rendered, is the source; else
    the rendered line stays. Pieces of an ``<mj-include>``d file stay too.
    """
    by_element: dict[str, list[Dropped]] = {}
    for piece in written:
        by_element.setdefault(piece.element, []).append(piece)
    ours = [piece for piece in rendered if piece.origin in ("", template)]
    counts: dict[str, int] = {}
    for piece in ours:
        counts[piece.element] = counts.get(piece.element, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for piece in rendered:
        sources = by_element.get(piece.element, [])
        if piece.origin in ("", template) and sources:
            index = seen.get(piece.element, 0)
            seen[piece.element] = index + 1
            source = sources[0] if len(sources) == 1 else (
                sources[index] if len(sources) == counts[piece.element] else None)
            if source is not None:
                piece = replace(piece, origin=source.origin, line=source.line)
        out.append(piece)
    return out


# Django tags and comments of a template's source: they render nothing where they
# stand ({{ value }} renders text, so it stays). As in Django's lexer, a tag or a
# {# comment #} is on one line: one spanning lines is text, rendered as written.
_DJANGO_SILENT = re.compile(
    r"\{%[ \t]*comment\b.*?%\}(?s:.*?)\{%[ \t]*endcomment[ \t]*%\}|\{#.*?#\}|\{%.*?%\}"
)


@dataclass
class _Source:
    text: str
    anchors: list[tuple[int, str, int, str]]
    dropped: list[Dropped]
    container_tokens: list[tuple[str, str]]
    locate: Callable[[int], tuple[str, int]] | None = None

    def where(self, position: int) -> tuple[str, int]:
        if self.locate is not None:
            return self.locate(position)
        return "", self.text.count("\n", 0, position) + 1


def in_source(source: str, where: Callable[[int], tuple[str, int]] | None = None
              ) -> list[Dropped]:
    """The container text of a template's MJML ``source`` (Django tags and all).

    ``where`` gives the (file, line) of a position of a generated source (a
    child template flattened into its base); by default, the line in ``source``.
    """
    blank = _DJANGO_SILENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source)
    found = _Source(blank, [], [], [], where)
    drop(found)
    return found.dropped
