"""A ``<head>`` that depends on which branches render: a table, proven entry by entry.

MRML writes the media-query rules of a column width (``.mj-column-per-35``, in
the ``@media`` block and its ``.moz-text-html`` copy), and the mobile rules of
images, only when such a column or image renders. A ``{% for %}`` around a
section, or an ``{% if %}`` around one, then changes the ``<head>`` between
zero and one iteration (or between branches) though the body is exactly the
source's body with the tags put back.

Such a template still compiles. Every combination of the outcomes of its
``{% if %}``/``{% for %}`` tags is compiled for real (each loop once or empty,
each branch): each must give the compiled body and text part, edited the same
way, and a head that differs from the others only in one stretch without
template tags, which depends only on the outcomes of the top-level tags. That
stretch becomes a marker in the compiled HTML; each top-level branch sets a mark
when it renders (``{% txmail_mark %}``: the tag was evaluated anyway), and after
the message rendered the marker is replaced by the head proven for those marks.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from django.template import Node
from django.template.base import Parser

from .flatten import Unprecompilable
from .protect import Group, Protector
from .runtime import NeedsFallback, register
from .verify import Pipeline, edit_keeping, normalize

# Each combination is one full compile; beyond this many, refuse rather than
# make compiling slow.
MAX_COMBINATIONS = 128
_HEAD_END = "</head>"


@dataclass(frozen=True)
class Heads:
    """The varying stretch of the ``<head>`` for each outcome of the top-level tags."""

    marker: str
    groups: tuple[int, ...]  # top-level group ids, in source order
    states: tuple[int, ...]  # how many outcomes each has
    table: dict[tuple[int, ...], str]
    span: tuple[int, int]  # the varying stretch in the compiled HTML

    def apply(self, html: str, marks: set[tuple[int, int]]) -> str:
        """Put the head proven for ``marks`` (``(group, branch)`` that rendered)."""
        key = tuple(
            next((b for b in range(n - 1) if (g, b) in marks), n - 1)
            for g, n in zip(self.groups, self.states, strict=True)
        )
        if html.count(self.marker) != 1:  # a value holds the marker: never guess
            raise NeedsFallback("a value contains txmail's head marker; rendered in full.")
        return html.replace(self.marker, self.table[key])

    def cut(self, html: str) -> str:
        """``html`` (the compiled one) with its varying stretch replaced by the marker."""
        start, end = self.span
        return html[:start] + self.marker + html[end:]


class MarkNode(Node):
    """``{% txmail_mark G B %}``: branch ``B`` of top-level group ``G`` rendered."""

    def __init__(self, mark: tuple[int, int]) -> None:
        self.mark = mark

    def render(self, context) -> str:  # type: ignore[no-untyped-def]
        marks = getattr(context, "txmail_marks", None)
        if marks is not None:
            marks.add(self.mark)
        return ""


@register.tag("txmail_mark")
def do_mark(parser: Parser, token) -> MarkNode:  # type: ignore[no-untyped-def]
    _, group, branch = token.split_contents()
    return MarkNode((int(group), int(branch)))


def _outcomes(prot: Protector, group: Group) -> list[Callable[[str], str]]:
    """Edits for each outcome: each branch once (a loop: one iteration), then the
    least one (no iteration or its ``{% empty %}``; no branch of an if without else).

    For a top-level group, outcome ``i`` < last is marked by ``(group, i)``.
    """
    if group.kind == "for":
        empty = 1 if group.roles[1] == "empty" else None
        return [edit_keeping(prot, group, 0), edit_keeping(prot, group, empty)]
    edits = [edit_keeping(prot, group, i) for i in range(len(group.units) - 1)]
    if group.roles[-2] != "else":
        edits.append(edit_keeping(prot, group, None))
    return edits


def top_level(prot: Protector) -> list[Group]:
    """The if/for groups inside no other if/for."""
    controls = [g for g in prot.groups if g.kind != "scope"]
    return [
        g for g in controls
        if not any(h.units[0] < g.units[0] < h.units[-1] for h in controls if h is not g)
    ]


def mark_tags(prot: Protector, heads: Heads) -> dict[int, str]:
    """Unit id → the mark tag to put right after that block tag."""
    tags = {}
    for group_id, n in zip(heads.groups, heads.states, strict=True):
        group = prot.groups[group_id]
        for branch in range(n - 1):
            tags[group.units[branch]] = f"{{% txmail_mark {group_id} {branch} %}}"
    return tags


def build(
    prot: Protector, sources: dict[str, str], html: str, text: str | None,
    pipeline: Pipeline, reason: str, settle: Callable[[str], str],
) -> Heads:
    """Prove the head table for every outcome, or raise ``Unprecompilable(reason)``."""
    controls = [g for g in prot.groups if g.kind != "scope"]
    outcomes = [_outcomes(prot, g) for g in controls]
    total = 1
    for edits in outcomes:
        total *= len(edits)
    if total > MAX_COMBINATIONS:
        raise Unprecompilable(
            f"{reason[:-1]}; its <head> CSS depends on {len(controls)} "
            f"{{% if %}}/{{% for %}} tags, too many combinations to prove."
        )
    head_end = html.find(_HEAD_END)
    for group in controls:
        if head_end < 0 or any(html.find(prot.token(u)) < head_end for u in group.units):
            raise Unprecompilable(reason)
    tops = top_level(prot)
    top_index = [controls.index(g) for g in tops]
    by_key: dict[tuple[int, ...], str] = {}
    combo_of: dict[tuple[int, ...], tuple[int, ...]] = {}
    for combo in itertools.product(*(range(len(e)) for e in outcomes)):

        def edit(source: str, combo: tuple[int, ...] = combo) -> str:
            for edits, state in zip(outcomes, combo, strict=True):  # outer groups first
                source = edits[state](source)
            return source

        v_html, v_text = pipeline({k: edit(v) for k, v in sources.items()})
        expected = edit(html)
        v_end = v_html.find(_HEAD_END)
        if v_end < 0 or normalize(v_html[v_end:]) != normalize(expected[head_end:]) or (
            text is not None and normalize(v_text or "") != normalize(settle(edit(text)))
        ):
            raise Unprecompilable(reason)
        key = tuple(combo[i] for i in top_index)
        head = v_html[:v_end]
        if by_key.setdefault(key, head) != head:  # depends on a nested tag too
            first = combo_of[key]
            nested = next(
                g for i, g in enumerate(controls) if first[i] != combo[i]
            )
            raise Unprecompilable(
                f"{prot.units[nested.units[0]].raw} changes the <head> CSS MJML "
                "writes (for the column widths and images that render) from inside "
                "another {% if %}/{% for %}; move it outside, or make its branches "
                "render the same column widths and images."
            )
        combo_of.setdefault(key, combo)
    compiled = html[:head_end]
    start, end = _varying([compiled, *by_key.values()])
    table = {key: head[start:len(head) - (head_end - end)] for key, head in by_key.items()}
    if any(prot.pattern.search(t) for t in [compiled[start:end], *table.values()]):
        raise Unprecompilable(reason)  # a value in the varying stretch
    return Heads(
        marker=f"tx{prot.nonce}h",
        groups=tuple(g.id for g in tops),
        states=tuple(len(outcomes[i]) for i in top_index),
        table=table,
        span=(start, end),
    )


def _varying(heads: list[str]) -> tuple[int, int]:
    """(start, end) in ``heads[0]`` of the stretch where ``heads`` differ."""
    prefix = _common(heads)
    suffix = min(_common([h[::-1] for h in heads]), min(map(len, heads)) - prefix)
    return prefix, len(heads[0]) - suffix


def _common(texts: list[str]) -> int:
    """The length of the prefix all ``texts`` share."""
    first = texts[0]
    length = min(map(len, texts))
    for text in texts[1:]:
        while first[:length] != text[:length]:
            length = next(i for i in range(length) if first[i] != text[i])
    return length
