"""A ``<head>`` that depends on which branches render: a table, proven region by region.

MRML writes the media-query rules of a column width (``.mj-column-per-35``, in
the ``@media`` block and its ``.moz-text-html`` copy), and the mobile rules of
images, only when such a column or image renders. A ``{% for %}`` around a
section, or an ``{% if %}`` around one, then changes the ``<head>`` between
zero and one iteration (or between branches) though the body is exactly the
source's body with the tags put back.

Such a template still compiles. Up to 128 combinations of the outcomes of its
``{% if %}``/``{% for %}`` tags, each is compiled for real (each loop once or
empty, each branch), and the head kept per outcome of the top-level tags.
Beyond, not all 2^n combinations of its n tags are compiled. MRML collects
what the head needs in sets (the column widths, whether an image renders) and
writes the head from their union, so a region's effect on the head can be
proven alone:

1. every top-level ``{% if %}``/``{% for %}`` is compiled at each outcome (and
   each outcome of the tags inside it) with the other top-level tags removed;
   the head it gives is its *effect*. Regions whose effect is the head without
   any of them (text only, or widths and images found outside them too) never
   change it; the tags inside a region must not change its effect;
2. for each set of effects some combination of outcomes gives, one such
   combination is compiled for real: its head is the head of every combination
   with that set of effects;
3. a few other combinations (each tag at its first outcome, each at its last,
   alternating) are compiled to check the composition: a head that depends on
   tags together in another way (they interact) falls back.

Every compiled combination must give the compiled body and text part, edited the
same way, and a head that differs from the others only in one stretch without
template tags. That stretch becomes a marker in the compiled HTML; each
top-level branch whose outcome changes the head sets a mark when it renders
(``{% txmail_mark %}``: the tag was evaluated anyway), and after the message
rendered the marker is replaced by the head proven for those marks.
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

# Each proven set of effects (and each probe) is one full compile; beyond this
# many, refuse rather than make compiling slow.
MAX_COMBINATIONS = 128
_HEAD_END = "</head>"
Edit = Callable[[str], str]


@dataclass(frozen=True)
class Heads:
    """The varying stretch of the ``<head>`` for each set of effects that renders."""

    marker: str
    groups: tuple[int, ...]  # top-level group ids whose outcome changes the head
    states: tuple[int, ...]  # how many outcomes each has
    effects: tuple[tuple[int, ...], ...]  # per group, per outcome: its effect (0: none)
    base: frozenset[int]  # the effects of top-level groups that give one whatever renders
    table: dict[frozenset[int], str]
    span: tuple[int, int]  # the varying stretch in the compiled HTML

    def apply(self, html: str, marks: set[tuple[int, int]]) -> str:
        """Put the head proven for ``marks`` (``(group, branch)`` that rendered)."""
        found = set(self.base)
        for group, n, effects in zip(self.groups, self.states, self.effects, strict=True):
            found.add(effects[next((b for b in range(n - 1) if (group, b) in marks), n - 1)])
        found.discard(0)
        if html.count(self.marker) != 1:  # a value holds the marker: never guess
            raise NeedsFallback("a value contains txmail's head marker; rendered in full.")
        return html.replace(self.marker, self.table[frozenset(found)])

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


def _outcomes(prot: Protector, group: Group) -> list[Edit]:
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


def _least_is_nothing(group: Group) -> bool:
    """Whether the least outcome renders nothing (no ``{% else %}``/``{% empty %}``)."""
    return group.roles[-2] not in ("else", "empty")


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


class _Prover:
    """Compile outcomes of the template for real and read their heads."""

    def __init__(
        self, prot: Protector, sources: dict[str, str], html: str, text: str | None,
        pipeline: Pipeline, reason: str, settle: Callable[[str], str],
    ) -> None:
        self.prot, self.sources, self.html, self.text = prot, sources, html, text
        self.pipeline, self.reason, self.settle = pipeline, reason, settle
        self.head_end = html.find(_HEAD_END)
        self.compiles = 0

    def head(self, edits: list[Edit], *, real: bool) -> str:
        """The head of the sources edited by ``edits`` (outer groups first).

        A ``real`` combination (every tag at one of its outcomes) must also give
        the compiled body and text part, edited the same way.
        """
        self.compiles += 1
        if self.compiles > MAX_COMBINATIONS:
            raise Unprecompilable(
                f"{self.reason[:-1]}; its <head> CSS depends on too many combinations "
                "of {% if %}/{% for %} tags to prove."
            )

        def edit(source: str) -> str:
            for one in edits:
                source = one(source)
            return source

        v_html, v_text = self.pipeline({k: edit(v) for k, v in self.sources.items()})
        v_end = v_html.find(_HEAD_END)
        if v_end < 0:
            raise Unprecompilable(self.reason)
        if real:
            expected = edit(self.html)
            if normalize(v_html[v_end:]) != normalize(expected[self.head_end:]) or (
                self.text is not None
                and normalize(v_text or "") != normalize(self.settle(edit(self.text)))
            ):
                raise Unprecompilable(self.reason)
        return v_html[:v_end]


def build(
    prot: Protector, sources: dict[str, str], html: str, text: str | None,
    pipeline: Pipeline, reason: str, settle: Callable[[str], str],
) -> Heads:
    """Prove the head for every outcome (module doc), or raise ``Unprecompilable``.

    Up to ``MAX_COMBINATIONS`` combinations of all the tags, each is compiled;
    beyond, each region's effect is proven alone.
    """
    controls = [g for g in prot.groups if g.kind != "scope"]
    head_end = html.find(_HEAD_END)
    for group in controls:
        if head_end < 0 or any(html.find(prot.token(u)) < head_end for u in group.units):
            raise Unprecompilable(reason)
    prover = _Prover(prot, sources, html, text, pipeline, reason, settle)
    outcomes = {g.id: _outcomes(prot, g) for g in controls}
    total = 1
    for edits in outcomes.values():
        total *= len(edits)
    prove = _every_combination if total <= MAX_COMBINATIONS else _region_by_region
    varying, effects, base, table = prove(prot, prover, controls, outcomes)
    compiled = html[:head_end]
    start, end = _varying([compiled, *table.values()])
    cut = {found: head[start:len(head) - (head_end - end)] for found, head in table.items()}
    if any(prot.pattern.search(t) for t in [compiled[start:end], *cut.values()]):
        raise Unprecompilable(reason)  # a value in the varying stretch
    return Heads(
        marker=f"tx{prot.nonce}h",
        groups=tuple(g.id for g in varying),
        states=tuple(len(outcomes[g.id]) for g in varying),
        effects=tuple(tuple(effects[g.id]) for g in varying),
        base=base,
        table=cut,
        span=(start, end),
    )


_Proven = tuple[list[Group], dict[int, list[int]], frozenset[int], dict[frozenset[int], str]]


def _nested_changes(prot: Protector, nested: Group) -> Unprecompilable:
    return Unprecompilable(
        f"{prot.units[nested.units[0]].raw} changes the <head> CSS MJML writes (for the "
        "column widths and images that render) from inside another {% if %}/{% for %}; "
        "move it outside, or make its branches render the same column widths and images."
    )


def _every_combination(
    prot: Protector, prover: _Prover, controls: list[Group], outcomes: dict[int, list[Edit]],
) -> _Proven:
    """Compile every combination of the outcomes of all the tags; each top-level
    outcome is an effect of its own."""
    tops = top_level(prot)
    by_key: dict[tuple[int, ...], tuple[str, tuple[int, ...]]] = {}
    for combo in _product([len(outcomes[g.id]) for g in controls]):
        head = prover.head([outcomes[g.id][s] for g, s in zip(controls, combo, strict=True)],
                           real=True)  # outer groups first: an inner one is gone then
        key = tuple(combo[controls.index(g)] for g in tops)
        first_head, first = by_key.setdefault(key, (head, combo))
        if first_head != head:  # depends on a nested tag too
            raise _nested_changes(prot, next(
                g for g, a, b in zip(controls, first, combo, strict=True) if a != b))
    counter = itertools.count(1)
    ids = {g.id: [next(counter) for _ in outcomes[g.id]] for g in tops}
    table = {
        frozenset(ids[g.id][s] for g, s in zip(tops, key, strict=True)): head
        for key, (head, _) in by_key.items()
    }
    return tops, ids, frozenset(), table


def _region_by_region(
    prot: Protector, prover: _Prover, controls: list[Group], outcomes: dict[int, list[Edit]],
) -> _Proven:
    """Prove each top-level region's effect alone, then one head per set of effects
    (module doc)."""
    tops = top_level(prot)
    removed = {g.id: edit_keeping(prot, g, None) for g in tops}
    nothing = {g.id for g in tops if _least_is_nothing(g)}  # removed == least outcome

    # 1. Each region alone: its effect per outcome, the same whatever its inner tags do.
    bare = prover.head([removed[g.id] for g in tops], real=len(nothing) == len(tops))
    effect_ids: dict[str, int] = {bare: 0}
    effects: dict[int, list[int]] = {}
    for top in tops:
        inner = [g for g in controls if top.units[0] < g.units[0] < top.units[-1]]
        others = [removed[g.id] for g in tops if g is not top]
        real = all(g.id in nothing for g in tops if g is not top)
        effects[top.id] = []
        for edit in outcomes[top.id]:
            heads: dict[str, tuple[int, ...]] = {}
            for combo in _product([len(outcomes[g.id]) for g in inner]):
                edits = [edit, *(outcomes[g.id][s] for g, s in zip(inner, combo, strict=True))]
                head = prover.head([*others, *edits], real=real)
                first = heads.setdefault(head, combo)
                if len(heads) > 1:
                    raise _nested_changes(prot, next(
                        g for g, a, b in zip(inner, first, combo, strict=True) if a != b))
            (head,) = heads
            effects[top.id].append(effect_ids.setdefault(head, len(effect_ids)))

    # 2. One real combination per set of effects that can render together.
    varying = [g for g in tops if len(set(effects[g.id])) > 1]
    base = frozenset(effects[g.id][0] for g in tops if g not in varying) - {0}
    reachable: dict[frozenset[int], tuple[int, ...]] = {base: ()}
    for group in varying:
        grown: dict[frozenset[int], tuple[int, ...]] = {}
        for found, key in reachable.items():
            for state, effect in enumerate(effects[group.id]):
                grown.setdefault(found | {effect} - {0}, (*key, state))
        reachable = grown
        if len(reachable) > MAX_COMBINATIONS:
            raise Unprecompilable(
                f"{prover.reason[:-1]}; its <head> CSS depends on {len(varying)} "
                "{% if %}/{% for %} tags whose effects combine in too many ways to prove."
            )

    def real_head(key: tuple[int, ...]) -> str:
        states = {g.id: s for g, s in zip(varying, key, strict=True)}
        # Outer groups first; the others (and inner ones) at their least outcome.
        return prover.head([outcomes[g.id][states.get(g.id, len(outcomes[g.id]) - 1)]
                            for g in controls], real=True)

    table = {found: real_head(key) for found, key in reachable.items()}
    # 3. The composition, on combinations not proven above.
    proven = set(reachable.values())
    checks = [
        tuple(0 for _ in varying),
        tuple(len(effects[g.id]) - 1 for g in varying),
        tuple(i % len(effects[g.id]) for i, g in enumerate(varying)),
        tuple((i + 1) % len(effects[g.id]) for i, g in enumerate(varying)),
    ]
    for key in dict.fromkeys(checks):
        if key in proven:
            continue
        found = base.union(effects[g.id][s] for g, s in zip(varying, key, strict=True)) - {0}
        if real_head(key) != table[found]:
            raise Unprecompilable(
                f"{prover.reason[:-1]}; its <head> CSS depends on {len(varying)} "
                "{% if %}/{% for %} tags together, not on each alone (they interact)."
            )
    return varying, effects, base, table


def _product(sizes: list[int]) -> list[tuple[int, ...]]:
    combos: list[tuple[int, ...]] = [()]
    for size in sizes:
        combos = [(*c, s) for c in combos for s in range(size)]
    return combos


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
