"""Prove a compiled template is exact, or say why it isn't (the fallback reason).

Nothing is assumed about what MRML, premailer or html2text do with a tag; the
compiled output is checked instead:

1. every placeholder is found where a value can be substituted safely — an HTML
   text node, or a value of ``href``/``src`` (URLs) or ``alt``/``title``/``lang``/
   ``aria-label``; never in a tag or attribute name, a comment, ``<style>``,
   ``<script>``, ``<pre>`` or any other attribute (``class``, ``style``, ``width``…);
2. block tags come out exactly once, in source order, with every value between
   the same block tags as in the source;
3. each ``{% if %}`` branch and each ``{% for %}`` with zero and two iterations
   is compiled for real and compared with the same edit of the compiled output,
   so MJML restructuring (columns sharing a width…) or CSS depending on
   siblings is caught by its effect.
"""

import re
from collections.abc import Callable
from html.parser import HTMLParser

from .flatten import Unprecompilable
from .protect import Group, Protector

URL_ATTRS = {"href", "src"}
TEXT_ATTRS = {"alt", "title", "lang", "aria-label"}
# Elements whose content can't hold a value: raw text to a parser (libxml2 reads
# iframe/noembed/noframes content as text), preformatted, or text html2text
# rewrites by its own rules (<abbr> titles, <del>/<s> strike marks).
_RAW_TEXT = {
    "style", "script", "pre", "textarea", "xmp", "iframe", "noembed", "noframes",
    "abbr", "del", "s", "strike",
}
# Selectors whose matches change with the number of siblings a loop makes.
_STRUCTURAL = re.compile(r":(?:first|last|nth|only)-|:empty|[+~]")
_CSS_BLOCK = re.compile(
    r"<(mj-style|style)\b[^>]*>(.*?)</\1>", re.IGNORECASE | re.DOTALL
)

# (unit id, "text" | "attr" | "url"; in the text part also "branch": a block tag
# of an attribute's {% if %} inside a link, decided by the HTML's copy)
Spot = tuple[int, str]
Pipeline = Callable[[dict[str, str]], tuple[str, str | None]]


class _Locator(HTMLParser):
    def __init__(self, prot: Protector) -> None:
        super().__init__(convert_charrefs=True)
        self.prot = prot
        self.spots: list[Spot] = []
        self.open_raw: list[str] = []
        self.attr_groups: set[int] = set()  # groups wholly inside one attribute

    def _fail(self, where: str, text: str) -> None:
        unit = self.prot.units[int(self.prot.pattern.search(text).group(1))]  # type: ignore[union-attr]
        raise Unprecompilable(f"{unit.raw} ends up {where}.")

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        find = self.prot.pattern
        if find.search(tag) or any(find.search(name) for name, _ in attrs):
            self._fail("inside a tag or attribute name", tag + str(attrs))
        for name, value in attrs:
            if not value or not find.search(value):
                continue
            if name in URL_ATTRS:
                kind = "url"
                if value.lstrip().lower().startswith("javascript"):
                    self._fail("in a javascript: URL", value)
            elif name in TEXT_ATTRS:
                kind = "attr"
            else:
                self._fail(
                    f"in the {name!r} attribute of <{tag}>, which MJML or CSS "
                    "inlining computes with", value,
                )
            self._whole_groups(name, tag, value)
            for match in find.finditer(value):
                self.spots.append((int(match.group(1)), kind))

    def _whole_groups(self, name: str, tag: str, value: str) -> None:
        """Allow ``{% if %}``/``{% for %}`` in a value only whole: each branch
        is then a value of its own, which the variants compile for real."""
        ids = {int(m.group(1)) for m in self.prot.pattern.finditer(value)}
        for unit_id in sorted(ids):
            unit = self.prot.units[unit_id]
            if unit.kind == "out":
                continue
            group = self.prot.groups[unit.group] if unit.group is not None else None
            if unit.kind != "control" or group is None or not set(group.units) <= ids:
                raise Unprecompilable(
                    f"{unit.raw} is only partly inside the {name!r} attribute of "
                    f"<{tag}>; put the whole {{% {unit.tag} %}}…{{% end"
                    f"{group.roles[0] if group else unit.tag} %}} inside the value "
                    "or outside the tag."
                )
            self.attr_groups.add(group.id)

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self._tag(tag, attrs)
        if tag in _RAW_TEXT:
            self.open_raw.append(tag)

    def handle_startendtag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self._tag(tag, attrs)

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag in self.open_raw:
            self.open_raw.remove(tag)

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        matches = list(self.prot.pattern.finditer(data))
        if matches and self.open_raw:
            self._fail(f"inside <{self.open_raw[-1]}>", data)
        self.spots.extend((int(m.group(1)), "text") for m in matches)

    def handle_comment(self, data):  # type: ignore[no-untyped-def]
        if self.prot.pattern.search(data):
            self._fail("inside an HTML comment (or Outlook conditional comment)", data)

    def handle_decl(self, decl):  # type: ignore[no-untyped-def]
        if self.prot.pattern.search(decl):
            self._fail("inside a declaration", decl)

    handle_pi = unknown_decl = handle_decl


def locate_html(html: str, prot: Protector) -> tuple[list[Spot], set[int]]:
    """Return each placeholder of ``html`` in order with where it stands, and the
    groups that stand wholly inside one attribute value."""
    locator = _Locator(prot)
    locator.feed(html)
    locator.close()
    found = [int(m.group(1)) for m in prot.pattern.finditer(html)]
    if [unit_id for unit_id, _ in locator.spots] != found:
        raise Unprecompilable("a template tag ends up where the HTML can't be parsed.")
    _check_structure(
        prot, locator.spots, part="HTML", all_present=True, attr_groups=locator.attr_groups
    )
    return locator.spots, locator.attr_groups


def locate_text(
    text: str, prot: Protector, link: re.Pattern[str], attr_groups: set[int],
) -> list[Spot]:
    """Return each placeholder of the derived text with "text" or "url" (link href).

    ``attr_groups``: groups the HTML holds inside one attribute value.
    """
    spots: list[Spot] = []
    state = ""
    links = 0
    link_of: dict[int, int] = {}  # attribute group → the link it stands in
    for match in link.finditer(text):
        if match.group(1) is None:  # a link marker: a (text) b (href) c (end)
            mark = "a" if match.group(2) in "ig" else match.group(2)
            if {"": "a", "a": "b", "b": "c"}[state] != mark:
                raise Unprecompilable("links nest in a way the text part can't keep.")
            state = "" if mark == "c" else mark
            links += mark == "a"
            continue
        unit_id = int(match.group(1))
        unit = prot.units[unit_id]
        if state in ("a", "b") and unit.kind != "out":
            group = unit.group
            if group in attr_groups and prot.groups[group].kind == "if":  # type: ignore[index]
                # The HTML's copy decides; the link shows the branch it took.
                if link_of.setdefault(group, links) != links:  # type: ignore[arg-type]
                    raise Unprecompilable(f"{unit.raw} spans two links in the text part.")
                spots.append((unit_id, "branch"))
                continue
            raise Unprecompilable(f"{unit.raw} is inside a link; move it around the link.")
        spots.append((unit_id, "url" if state == "b" else "text"))
    for unit_id, where in spots:
        if prot.units[unit_id].group in link_of and where != "branch":
            raise Unprecompilable(
                f"{prot.units[unit_id].raw} is partly inside a link in the text part."
            )
    _check_structure(prot, spots, part="text", all_present=False, attr_groups=attr_groups)
    return spots


def _check_structure(
    prot: Protector, spots: list[Spot], *, part: str, all_present: bool,
    attr_groups: set[int],
) -> None:
    counts: dict[int, int] = {}
    for unit_id, _ in spots:
        counts[unit_id] = counts.get(unit_id, 0) + 1
    for unit in prot.units:
        n = counts.get(unit.id, 0)
        if unit.kind != "out" and n > 1:
            raise Unprecompilable(f"{unit.raw} is repeated in the compiled {part}.")
        if n > 1 and not unit.pure:
            raise Unprecompilable(f"{unit.raw} is repeated in the compiled {part}.")
        if all_present and n == 0:
            raise Unprecompilable(
                f"{unit.raw} disappears when the {part} is compiled (MJML computes "
                "with it or drops it where it stands)."
            )
    for group in prot.groups:
        present = sum(counts.get(u, 0) for u in group.units)
        inner = range(group.units[0] + 1, group.units[-1])
        if present not in (0, len(group.units)) or (
            present == 0 and any(counts.get(u) for u in inner)
        ):
            raise Unprecompilable(
                f"{prot.units[group.units[0]].raw} is only partly kept in the {part}."
            )

    def in_attribute(unit_id: int) -> bool:
        return prot.units[unit_id].group in attr_groups

    # A group inside one attribute value holds only that value's pieces: MRML
    # may write the attributes of a tag in another order (<mj-image>'s href
    # before its src) without moving anything across the group.
    structural = [
        u for u, _ in spots if prot.units[u].kind != "out" and not in_attribute(u)
    ]
    if structural != sorted(structural):
        raise Unprecompilable(f"block tags are reordered in the compiled {part}.")
    # Each value (and each attribute's group) must sit between the same block
    # tags as in the source.
    for index, (unit_id, _) in enumerate(spots):
        if prot.units[unit_id].kind != "out" and not in_attribute(unit_id):
            continue
        before = [u for u, _ in spots[:index] if prot.units[u].kind != "out"]
        after = [u for u, _ in spots[index + 1:] if prot.units[u].kind != "out"]
        if prot.units[unit_id].kind == "out" and before and after and (
            in_attribute(before[-1]) and in_attribute(after[0])
            and prot.units[before[-1]].group == prot.units[after[0]].group
        ):
            inside = before[-1] < unit_id < after[0]  # a branch of an attribute's group
        else:
            before = [u for u in before if not in_attribute(u)]
            after = [u for u in after if not in_attribute(u)]
            inside = not ((before and before[-1] > unit_id) or (after and after[0] < unit_id))
        if not inside:
            raise Unprecompilable(
                f"{prot.units[unit_id].raw} moves to another block in the compiled {part}."
            )


def check_css(prot: Protector, sources: dict[str, str]) -> None:
    """Refuse inlined CSS whose selectors count siblings when blocks repeat/vanish."""
    if not any(g.kind in ("if", "for") for g in prot.groups):
        return
    for source in sources.values():
        for match in _CSS_BLOCK.finditer(source):
            if prot.pattern.search(match.group(2)):
                raise Unprecompilable("a template tag is inside CSS (<style>/<mj-style>).")
    selector = _structural_css(sources)
    if selector:
        raise Unprecompilable(
            f"the CSS selector {selector!r} depends on siblings that {{% if %}}/"
            "{% for %} add or remove."
        )


def _structural_css(sources: dict[str, str]) -> str | None:
    """The first CSS selector that counts or matches siblings, if any."""
    for source in sources.values():
        for match in _CSS_BLOCK.finditer(source):
            for selector in re.findall(r"([^{}]*)\{", match.group(2)):
                if _STRUCTURAL.search(selector) and not selector.lstrip().startswith("@"):
                    return selector.strip()
    return None


def normalize(markup: str) -> str:
    """Insignificant whitespace: runs collapse, none around tags, none at the ends."""
    return re.sub(r"\s*([<>])\s*", r"\1", re.sub(r"\s+", " ", markup)).strip()


def _spans(text: str, prot: Protector, group: Group) -> list[tuple[int, int]] | None:
    spans = []
    for unit_id in group.units:
        start = text.find(prot.token(unit_id))
        if start < 0:
            return None
        spans.append((start, start + len(prot.token(unit_id))))
    return spans


def edit_keeping(
    prot: Protector, group: Group, index: int | None, times: int = 1
) -> Callable[[str], str]:
    """An edit that replaces ``group`` by its branch ``index`` (None: nothing),
    ``times`` times, tags removed."""

    def edit(text: str) -> str:
        spans = _spans(text, prot, group)
        if spans is None:
            return text
        body = "" if index is None else text[spans[index][1]:spans[index + 1][0]]
        return text[:spans[0][0]] + body * times + text[spans[-1][1]:]

    return edit


def _variants(prot: Protector, group: Group) -> list[Callable[[str], str]]:
    def keep(index: int | None, times: int = 1) -> Callable[[str], str]:
        return edit_keeping(prot, group, index, times)

    if group.kind == "for":
        edits = [keep(0, 2)]
        edits.append(keep(1) if group.roles[1] == "empty" else keep(None))
        return edits
    edits = [keep(i) for i in range(len(group.units) - 1)]
    if group.roles[-2] != "else":
        edits.append(keep(None))
    return edits


_QUIET = "{% with %}/assignment tags"


def check_variants(
    prot: Protector, sources: dict[str, str], html: str, text: str | None,
    pipeline: Pipeline, settle: Callable[[str], str] = lambda text: text,
) -> str | None:
    """Compile each branch/iteration count for real and compare (see module doc).

    ``settle`` turns the edited text part's links that no longer hold a tag
    into what the text part makes of such links.

    Return the reason of the first variant that differs only in the ``<head>``
    (MRML's CSS for the columns and images that render), for ``heads`` to
    prove a head per outcome; None when nothing differs.
    """
    edits: list[tuple[str, Callable[[str], str]]] = []
    least: list[Callable[[str], str]] = []
    for group in prot.groups:
        if group.kind != "scope":
            variants = _variants(prot, group)
            edits += [(prot.units[group.units[0]].raw, e) for e in variants]
            least.append(variants[-1])  # no iteration; the else branch or nothing
    if len(least) > 1:
        # All at once too: MRML's <head> CSS depends on whether any image or
        # column renders at all, which no single group decides.
        def all_least(text: str) -> str:
            for edit in least:  # outer groups first: an inner one is gone then
                text = edit(text)
            return text

        edits.append(("every {% if %} false and every {% for %} empty at once", all_least))
    quiet = [u.id for u in prot.units if u.kind in ("scope", "silent")]
    if quiet:
        tokens = [prot.token(u) for u in quiet]

        def drop(text: str) -> str:
            for token in tokens:
                text = text.replace(token, "")
            return text

        edits.append((_QUIET, drop))
    head_only = None
    for label, edit in edits:
        v_html, v_text = pipeline({k: edit(v) for k, v in sources.items()})
        expected = edit(html)
        same_html = normalize(v_html) == normalize(expected)
        same_text = text is None or normalize(v_text or "") == normalize(settle(edit(text)))
        if same_html and same_text:
            continue
        part = "HTML" if not same_html else "text part"
        reason = (
            f"{label} changes the layout of the compiled {part} depending on "
            "its outcome (MJML or CSS inlining restructures around it)."
        )
        if same_text and label != _QUIET and _same_body(v_html, expected):
            head_only = head_only or reason
            continue
        raise Unprecompilable(reason)
    return head_only


def _same_body(one: str, other: str) -> bool:
    """Whether two HTML documents differ only before ``</head>``."""
    a, b = one.find("</head>"), other.find("</head>")
    return a >= 0 and b >= 0 and normalize(one[a:]) == normalize(other[b:])


def line_break_units(
    prot: Protector, sources: dict[str, str], html: str, text: str | None,
    spots: list[Spot], chain: str, pipeline: Pipeline,
) -> set[int]:
    """Output tags filtered by ``|linebreaksbr`` whose ``<br>`` is a local change.

    For each such tag standing only in HTML text, the sources are compiled with
    its placeholder ``P`` written as ``P<br>P``: the tag is approved when the
    HTML then holds ``P<br>P`` (``<br />`` as MRML writes it) where it held ``P``,
    and the text part ``P``, a newline, ``P``, with nothing else changed. The
    runtime then maps a value's line breaks the same way (``values.transform``).
    """
    in_text = {u for u, where in spots if where == "text"}
    elsewhere = {u for u, where in spots if where != "text"}
    candidates = sorted(
        u for u in in_text - elsewhere if "linebreaksbr" in prot.units[u].raw
    )
    if candidates and _structural_css(sources):
        return set()  # "br + br" styles a third line, which one probed <br> can't show
    br = "<br />" if chain == "m" else "<br>"
    approved = set()
    for unit_id in candidates:
        token = prot.token(unit_id)
        v_html, v_text = pipeline({k: v.replace(token, f"{token}<br>{token}")
                                   for k, v in sources.items()})
        if v_html == html.replace(token, f"{token}{br}{token}") and (
            text is None or v_text == text.replace(token, f"{token}\n{token}")
        ):
            approved.add(unit_id)
    return approved
