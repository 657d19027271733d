"""Replace every Django tag with an opaque placeholder MRML, premailer and html2text keep.

A placeholder is ``tx<nonce>p<id>q``: lowercase letters and digits only, so it
survives HTML escaping, lxml serialization, URL escaping and html2text, and it
reads as one word wherever it lands. Each tag becomes a *unit*:

* ``out``     — produces text: ``{{ var }}``, ``{% trans %}``, ``{% url %}``, a
  whole ``{% blocktrans %}…{% endblocktrans %}``, any unknown tag;
* ``control`` — ``if/elif/else/endif`` and ``for/empty/endfor``, grouped;
* ``scope``   — ``with``, ``language``, ``localize``… pairs that render nothing
  themselves;
* ``silent``  — single tags that only assign (``{% … as name %}``).

``{% load %}`` tags are hoisted to the top; comments are dropped. Tags whose
effect depends on the rendered markup (``autoescape``, ``filter``, ``spaceless``,
``cycle``…) raise ``Unprecompilable``.
"""

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from django.template.base import TokenType

from .flatten import Traced, Unprecompilable, raw, span, tokenize

CONTROL = {"if": ("elif", "else"), "for": ("empty",)}
SCOPES = {"with", "language", "localize", "localtime", "timezone", "txmail_scope"}
# Tags whose output depends on markup or on render order: never compiled once.
REFUSED = {
    "autoescape": "{% autoescape %} changes escaping of its content",
    "filter": "{% filter %} transforms rendered markup",
    "spaceless": "{% spaceless %} rewrites rendered markup",
    "verbatim": "{% verbatim %} content can't be told apart from markup",
    "cycle": "{% cycle %} depends on render order",
    "resetcycle": "{% resetcycle %} depends on render order",
    "ifchanged": "{% ifchanged %} depends on rendered output",
    "debug": "{% debug %} output is markup",
    "partialdef": "template partials can't be flattened",
    "partial": "template partials can't be flattened",
    "extends": "{% extends %} must be the first tag",
    "block": "unresolved {% block %}",
    "include": "unresolved {% include %}",
}
_MJ_INCLUDE = re.compile(
    r"""<mj-include\b[^>]*?\bpath\s*=\s*(?:(["'])(.*?)\1|([^\s"'>]+))""", re.IGNORECASE
)
# Output tags that give the same text wherever and however often they render.
PURE = {"trans", "translate", "blocktrans", "blocktranslate", "url", "static", "now"}


@dataclass
class Unit:
    id: int
    kind: str  # "out" | "control" | "scope" | "silent"
    raw: str  # the Django source restored in place of the placeholder
    tag: str  # "var" for {{ }}, else the tag name
    group: int | None = None

    @property
    def pure(self) -> bool:
        return self.kind == "out" and (self.tag == "var" or self.tag in PURE)


@dataclass
class Group:
    id: int
    kind: str  # "if" | "for" | "scope"
    units: list[int] = field(default_factory=list)  # ordered tag unit ids
    roles: list[str] = field(default_factory=list)  # tag names of those units


class Protector:
    """Collect units across a body and its mj-includes (one table, one nonce)."""

    def __init__(self, on_include: Callable[[str, str], None] | None = None) -> None:
        # Called with each <mj-include> path (and the including file) where it
        # stands, so an included
        # file's units are numbered in document order (the verifier relies on
        # ids following the source order).
        self.on_include = on_include
        self.nonce = secrets.token_hex(3)
        self.prefix = f"tx{self.nonce}p"
        self.pattern = re.compile(rf"{self.prefix}(\d+)q")
        self.units: list[Unit] = []
        self.groups: list[Group] = []
        self.loads: list[str] = []
        self.prologue: list[str] = []
        self.markup_units: list[int] = []
        # Each protected source by origin, traced to its files (``protect(trace=)``).
        self.traced: dict[str, Traced] = {}

    def token(self, unit_id: int) -> str:
        return f"{self.prefix}{unit_id}q"

    def _add(self, kind: str, text: str, tag: str, group: int | None = None) -> str:
        unit = Unit(len(self.units), kind, text, tag, group)
        self.units.append(unit)
        return self.token(unit.id)

    def protect(self, source: str | Traced, origin: str, *, top: bool = False) -> str:
        """Return ``source`` (already flattened) with placeholders for its tags.

        A ``Traced`` source's output is traced too, in ``traced[origin]``.
        """
        trace = source if isinstance(source, Traced) else None
        source = source.text if isinstance(source, Traced) else source
        if self.prefix in source:  # astronomically unlikely; never guess
            raise Unprecompilable(f"'{origin}' contains the placeholder {self.prefix}.")
        tokens = tokenize(source)
        out = _Out(trace)
        stack: list[Group] = []
        leading = top
        i = 0
        while i < len(tokens):
            token = tokens[i]
            text = raw(source, token)
            out.at = span(token)[0]
            i += 1
            if token.token_type == TokenType.COMMENT:
                continue
            if token.token_type == TokenType.TEXT:
                leading = leading and not text.strip()
                out.append(text)
                if self.on_include is not None:
                    for match in _MJ_INCLUDE.finditer(text):
                        path = match.group(2) if match.group(1) else match.group(3)
                        self.on_include(path.removesuffix("/"), origin)
                continue
            if token.token_type == TokenType.VAR:
                leading = False
                out.append(self._add("out", text, "var"))
                continue
            bits = token.split_contents()
            tag = bits[0] if bits else ""
            if tag == "load":
                self.loads.append(text)
                continue
            if tag in REFUSED:
                raise Unprecompilable(f"'{origin}' uses {{% {tag} %}}: {REFUSED[tag]}.")
            silent = (
                len(bits) >= 3 and bits[-2] == "as"
                and tag not in CONTROL and tag not in SCOPES
            )
            if silent and leading:
                # Assignments before the first markup (``get_current_language as``
                # above ``<mjml>``) move to a prologue MRML never sees.
                self.prologue.append(text)
                continue
            leading = False
            if tag in CONTROL or tag in SCOPES:
                group = Group(len(self.groups), tag if tag in CONTROL else "scope")
                self.groups.append(group)
                stack.append(group)
                kind = "control" if tag in CONTROL else "scope"
                out.append(self._group_unit(group, kind, text, tag))
            elif stack and tag in CONTROL.get(stack[-1].kind, ()):
                out.append(self._group_unit(stack[-1], "control", text, tag))
            elif stack and tag == "end" + stack[-1].roles[0]:
                group = stack.pop()
                kind = "scope" if group.kind == "scope" else "control"
                out.append(self._group_unit(group, kind, text, tag))
            elif silent:
                out.append(self._add("silent", text, tag))
            elif self._has_end(tokens, i, tag):
                # A block tag rendered as one unit (blocktrans, custom block tags).
                end = self._skip_to(tokens, i, tag, "end" + tag, origin)
                body = source[span(token)[0]:span(tokens[end - 1])[1]]
                inner = [t for t in tokens[i:end - 1] if t.token_type == TokenType.TEXT]
                if any("<" in raw(source, t) for t in inner):
                    raise Unprecompilable(
                        f"'{origin}': {{% {tag} %}} wraps HTML markup; the markup "
                        "must be outside the tag to be compiled once."
                    )
                asvar = "asvar" in bits
                out.append(self._add("silent" if asvar else "out", body, tag))
                i = end
            else:
                out.append(self._add("out", text, tag))
        if stack:
            opened = stack[-1].roles[0]
            raise Unprecompilable(f"'{origin}': {{% {opened} %}} is never closed.")
        if out.traced is not None:
            self.traced[origin] = out.traced
        return "".join(out)

    def _group_unit(self, group: Group, kind: str, text: str, tag: str) -> str:
        placeholder = self._add(kind, text, tag, group.id)
        group.units.append(len(self.units) - 1)
        group.roles.append(tag)
        return placeholder

    @staticmethod
    def _has_end(tokens: list, start: int, tag: str) -> bool:
        end = "end" + tag
        return any(
            t.token_type == TokenType.BLOCK and t.contents.split()[:1] == [end]
            for t in tokens[start:]
        )

    @staticmethod
    def _skip_to(tokens: list, start: int, tag: str, end: str, origin: str) -> int:
        """Return the index after the ``end`` tag matching an open ``tag``."""
        depth = 1
        for j in range(start, len(tokens)):
            t = tokens[j]
            if t.token_type != TokenType.BLOCK:
                continue
            name = t.contents.split()[:1]
            if name == [tag]:
                depth += 1
            elif name == [end]:
                depth -= 1
                if depth == 0:
                    return j + 1
        raise Unprecompilable(f"'{origin}': {{% {tag} %}} is never closed.")


class _Out(list[str]):
    """The protected source's pieces; traced to the files when the input is."""

    def __init__(self, trace: Traced | None) -> None:
        super().__init__()
        self.trace = trace
        self.traced = Traced() if trace is not None else None
        self.at = 0  # the offset in the input of the token being replaced

    def append(self, text: str) -> None:
        super().append(text)
        if self.traced is not None and self.trace is not None:
            if self.trace.text.startswith(text, self.at):  # text as written
                self.traced.copy(self.trace, self.at, self.at + len(text))
            else:  # a placeholder
                self.traced.point(text, self.trace, self.at)
