"""A rendered email's HTML as a tree of elements, with the styles each one gets.

Email HTML is mostly inline styles (MJML and premailer write them) plus a few
``<style>`` rules; this resolves both: simple selectors (type, ``.class``,
``#id``, compounds and descendants) by specificity, then the inline style, then
inheritance. Rules inside ``@media`` blocks are left out (they apply to some
screens only), and so are selectors with pseudo-classes or attributes.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

from .colors import RGBA, over, parse_color

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "param", "source", "track", "wbr"}
# Elements whose text is never shown as part of the message.
NOT_SHOWN = {"head", "style", "script", "title", "template", "noscript", "xml"}
INHERITED = {"color", "font-size", "font-weight", "visibility"}
WHITE: RGBA = (255.0, 255.0, 255.0, 1.0)
BLACK: RGBA = (0.0, 0.0, 0.0, 1.0)
LINK_BLUE: RGBA = (0.0, 0.0, 238.0, 1.0)  # #0000EE, browsers' and mail clients' default


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str]
    line: int
    parent: "Element | None" = None
    children: list["Element"] = field(default_factory=list)
    text: list[str] = field(default_factory=list)  # its own text, not its children's
    declared: dict[str, str] = field(default_factory=dict)  # <style> rules, then inline

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def ancestors(self) -> Iterator["Element"]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def iter(self) -> Iterator["Element"]:
        """It and its descendants in document order (no recursion: nesting may be deep)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def all_text(self) -> str:
        """Its text and its descendants', whitespace collapsed (text before children's)."""
        return " ".join(" ".join(" ".join(node.text) for node in self.iter()).split())

    def own_text(self) -> str:
        return " ".join(" ".join(self.text).split())

    def describe(self) -> str:
        """``line 12: <a class="btn">`` for a finding's ``where``."""
        shown = "".join(f' {k}="{_short(self.attrs[k])}"' for k in ("id", "class", "href", "src")
                        if self.attrs.get(k))
        return f"line {self.line}: <{self.tag}{shown}>"


def _short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, 1)
        self.stack = [self.root]
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        node = Element(tag, values, self.getpos()[0], parent=self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack[-1].tag == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        # Close up to the matching element; a stray end tag is ignored.
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        node = self.stack[-1]
        if node.tag == "style":
            self.styles.append(data)
        elif data.strip():
            node.text.append(data)


@dataclass
class Document:
    root: Element

    def elements(self, *tags: str) -> Iterator[Element]:
        for node in self.root.iter():
            if node.tag != "#document" and (not tags or node.tag in tags):
                yield node

    def first(self, tag: str) -> Element | None:
        return next(self.elements(tag), None)


def parse(html: str) -> Document:
    """Parse ``html`` and give every element the declarations that apply to it."""
    builder = _Builder()
    builder.feed(html)
    builder.close()
    rules = [rule for css in builder.styles for rule in parse_rules(css)]
    for node in builder.root.iter():
        if node.tag == "#document":
            continue
        matched = sorted(
            (rule for rule in rules if _matches(rule.selector, node)),
            key=lambda rule: (rule.specificity, rule.order))
        for rule in matched:
            node.declared.update(rule.declarations)
        inline = parse_declarations(node.attrs.get("style", ""))
        node.declared.update(inline)
        # A rule's !important beats an inline declaration that isn't (CSS cascade).
        for rule in matched:
            for name, value in rule.declarations.items():
                if important(value) and not important(inline.get(name, "")):
                    node.declared[name] = value
    return Document(builder.root)


def important(value: str) -> bool:
    """Whether a declared value ends in ``!important``."""
    return value.replace(" ", "").lower().endswith("!important")


# -- CSS ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    selector: tuple[tuple[str, frozenset[str], str], ...]  # compounds: (tag, classes, id)
    specificity: tuple[int, int, int]
    order: int
    declarations: dict[str, str]


_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_COMPOUND = re.compile(r"^([a-z][a-z0-9]*|\*)?((?:[.#][\w-]+)*)$", re.IGNORECASE)


def parse_declarations(style: str) -> dict[str, str]:
    found = {}
    for declaration in style.split(";"):
        name, sep, value = declaration.partition(":")
        if sep and name.strip():
            found[name.strip().lower()] = value.strip()
    return found


def _without_at_blocks(css: str) -> str:
    """``css`` without ``@media``/``@supports``/... blocks (braces counted)."""
    out, i = [], 0
    while (at := css.find("@", i)) != -1:
        out.append(css[i:at])
        brace, semi = css.find("{", at), css.find(";", at)
        if brace == -1 or (semi != -1 and semi < brace):  # @import …; @charset …;
            i = semi + 1 if semi != -1 else len(css)
            continue
        depth, j = 0, brace
        while j < len(css):
            depth += {"{": 1, "}": -1}.get(css[j], 0)
            j += 1
            if depth == 0:
                break
        i = j
    out.append(css[i:])
    return "".join(out)


def parse_rules(css: str, start: int = 0) -> list[Rule]:
    css = _without_at_blocks(_COMMENT.sub("", css).replace("<!--", "").replace("-->", ""))
    rules = []
    for order, match in enumerate(re.finditer(r"([^{}]+)\{([^{}]*)\}", css), start):
        declarations = parse_declarations(match.group(2))
        for text in match.group(1).split(","):
            selector = _selector(text)
            if selector:
                ids = sum(1 for _t, _c, i in selector if i)
                classes = sum(len(c) for _t, c, _i in selector)
                tags = sum(1 for t, _c, _i in selector if t)
                rules.append(Rule(selector, (ids, classes, tags), order, declarations))
    return rules


def _selector(text: str) -> tuple[tuple[str, frozenset[str], str], ...] | None:
    compounds = []
    for part in text.split():
        match = _COMPOUND.match(part)
        if not match or not part:
            return None  # >, +, ~, :hover, [attr]: not resolved here
        tag = (match.group(1) or "").lower().replace("*", "")
        rest = match.group(2)
        classes = frozenset(re.findall(r"\.([\w-]+)", rest))
        ids = re.findall(r"#([\w-]+)", rest)
        compounds.append((tag, classes, ids[0] if ids else ""))
    return tuple(compounds) or None


def _compound_matches(compound: tuple[str, frozenset[str], str], node: Element) -> bool:
    tag, classes, ident = compound
    return ((not tag or node.tag == tag) and classes <= node.classes
            and (not ident or node.attrs.get("id") == ident))


def _matches(selector: tuple[tuple[str, frozenset[str], str], ...], node: Element) -> bool:
    if not _compound_matches(selector[-1], node):
        return False
    remaining = list(selector[:-1])
    for ancestor in node.ancestors():
        if not remaining:
            break
        if _compound_matches(remaining[-1], ancestor):
            remaining.pop()
    return not remaining


# -- computed values ----------------------------------------------------------------------

def style(node: Element, name: str) -> str | None:
    """The value of property ``name`` for ``node``, inherited when CSS inherits it."""
    chain = [node, *node.ancestors()] if name in INHERITED else [node]
    for each in chain:
        value = each.declared.get(name)
        if value is not None and _bare(value).lower() != "inherit":
            return _bare(value)
    return None


def _bare(value: str) -> str:
    """``value`` without its ``!important``."""
    return _IMPORTANT.sub("", value).strip()


_IMPORTANT = re.compile(r"\s*!\s*important\s*$", re.IGNORECASE)


def _zero(value: str | None) -> bool:
    return value is not None and _ZERO.fullmatch(value.strip()) is not None


_ZERO = re.compile(r"0(?:\.0*)?(?:px|pt|em|rem|%)?(?:\s*!important)?")


def is_hidden(node: Element) -> bool:
    """Whether ``node`` is hidden: ``display:none``, zero size or opacity…

    Hidden preheaders use several of these at once; any one of them hides it
    from most readers, so any one counts. A ``font-size:0`` counts only where
    it is the node's own size: MJML sets it on cells whose content sets its own.
    ``mso-hide:all`` doesn't count: only Outlook for Windows reads it, and every
    other client shows the text.
    """
    for each in [node, *node.ancestors()]:
        if each.tag in NOT_SHOWN or "hidden" in each.attrs:
            return True
        d = {name: _bare(value) for name, value in each.declared.items()}
        if d.get("display", "").lower().startswith("none"):
            return True
        if _zero(d.get("opacity")):
            return True
        if _zero(d.get("max-height")) and d.get("overflow", "").lower().startswith("hidden"):
            return True
    if (style(node, "visibility") or "").lower().startswith("hidden"):
        return True
    return font_size(node) == 0


def _background_of(node: Element) -> RGBA | None:
    value = node.declared.get("background-color")
    color = parse_color(value) if value else None
    if color is None and (shorthand := node.declared.get("background")):
        for token in reversed(shorthand.replace(",", " ").split()):
            if (color := parse_color(token)) is not None:
                break
    if color is None and (attr := node.attrs.get("bgcolor")):
        color = parse_color(attr)
    return color


def _has_image(node: Element) -> bool:
    return ("background" in node.attrs or "url(" in node.declared.get("background-image", "")
            or "url(" in node.declared.get("background", ""))


def background(node: Element) -> RGBA | None:
    """The opaque colour behind ``node``'s text: its and its ancestors' backgrounds.

    None when an image is behind it first: its colours aren't known here.
    """
    layers: list[RGBA] = []
    for each in [node, *node.ancestors()]:
        if _has_image(each) and not layers:
            return None
        color = _background_of(each)
        if color is not None and color[3] > 0:
            layers.append(color)
            if color[3] >= 1:
                break
    result = WHITE
    for color in reversed(layers):
        result = over(color, result)
    return result


def foreground(node: Element, behind: RGBA) -> RGBA:
    """The opaque colour of ``node``'s text over ``behind`` (black by default)."""
    color = None
    for each in [node, *node.ancestors()]:
        value = each.declared.get("color")
        if value is None and each.tag == "font":
            value = each.attrs.get("color")
        if value is not None and (color := parse_color(value)) is not None:
            break
        if each.tag == "a" and "href" in each.attrs:
            # A link's colour isn't inherited: without one of its own, the
            # client's default link blue.
            color = LINK_BLUE
            break
    return over(color or BLACK, behind)


def font_size(node: Element) -> float:
    """``node``'s font size in CSS pixels (16 by default); em and % follow the parent."""
    size = 16.0
    for each in reversed([node, *node.ancestors()]):
        match = _SIZE.match(each.declared.get("font-size", ""))
        if match:
            number, unit = float(match.group(1)), (match.group(2) or "px").lower()
            size = {"px": number, "pt": number * 4 / 3, "em": number * size,
                    "rem": number * 16, "%": number * size / 100}[unit]
    return size


_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(px|pt|em|rem|%)?", re.IGNORECASE)


def is_bold(node: Element) -> bool:
    """Whether ``node``'s text is bold: a declared weight, else a bold element's default."""
    weight = style(node, "font-weight")
    if weight is None:
        return any(each.tag in _BOLD for each in [node, *node.ancestors()])
    weight = weight.lower()
    return weight in ("bold", "bolder") or (weight.isdigit() and int(weight) >= 700)


_BOLD = {"b", "strong", "th", "h1", "h2", "h3", "h4", "h5", "h6"}
