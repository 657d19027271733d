"""Resolve ``{% extends %}``/``{% block %}``/``{% include %}`` into one flat source.

The precompiler can only protect tags it can see, so a body template and every
template it pulls in are merged into a single Django source first, with the same
meaning Django gives them: the most-derived version of each block wins,
``{{ block.super }}`` is the parent's version, an include is the included
source in a scope of its own. ``{% load %}`` tags of every file are kept (the
protect step hoists them to the top).

Anything whose meaning depends on values (``{% extends var %}``,
``{% include var %}``, ``only``) raises ``Unprecompilable``; the template then
renders through the per-message pipeline.
"""

import bisect
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.template.base import DebugLexer, Token, TokenType

from .. import find as tpl

if TYPE_CHECKING:
    from ..mjml_text import Dropped

MAX_DEPTH = 20


class Unprecompilable(Exception):
    """The template can't be compiled once; the message says why (fallback reason)."""


class Traced:
    """A source built from pieces of files, and the file and line of each position.

    A piece is copied from ``source`` (the text of file ``origin``) at ``offset``;
    one written by txmail (``moves=False``) stands at that offset as a whole.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.starts: list[int] = []
        self.places: list[tuple[str, int, str, bool]] = []  # origin, offset, source, moves
        self.length = 0
        self._text: str | None = ""

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "".join(self.parts)
        return self._text

    def add(self, text: str, origin: str, offset: int, source: str, moves: bool = True) -> None:
        if text:
            self.starts.append(self.length)
            self.places.append((origin, offset, source, moves))
            self.parts.append(text)
            self.length += len(text)
            self._text = None

    def copy(self, other: "Traced", start: int = 0, end: int | None = None) -> None:
        """Add ``other.text[start:end]``, each piece still traced to its file."""
        end = other.length if end is None else end
        index = max(bisect.bisect_right(other.starts, start) - 1, 0)
        for i in range(index, len(other.starts)):
            piece_start = other.starts[i]
            if piece_start >= end:
                break
            piece_end = other.starts[i + 1] if i + 1 < len(other.starts) else other.length
            a, b = max(start, piece_start), min(end, piece_end)
            if a < b:
                origin, offset, source, moves = other.places[i]
                self.add(other.parts[i][a - piece_start:b - piece_start], origin,
                         offset + a - piece_start if moves else offset, source, moves)

    def point(self, text: str, other: "Traced", at: int) -> None:
        """Add ``text`` (written by txmail) where ``other.text[at]`` comes from."""
        origin, offset, source = other.place(at)
        self.add(text, origin, offset, source, moves=False)

    def place(self, position: int) -> tuple[str, int, str]:
        """(file, offset in that file's source, that source) of ``position``."""
        index = bisect.bisect_right(self.starts, position) - 1
        if index < 0:
            return "", 0, ""
        origin, offset, source, moves = self.places[index]
        return origin, offset + (position - self.starts[index] if moves else 0), source

    def where(self, position: int) -> tuple[str, int]:
        """(file, line) of ``position``."""
        origin, offset, source = self.place(position)
        return origin, source.count("\n", 0, min(offset, len(source))) + 1


@dataclass(frozen=True)
class Dep:
    """One file a compiled template was built from, to notice edits in DEBUG."""

    template_name: str
    origin_name: str
    stamp: tuple[int, int] | None  # (mtime_ns, size) for files, else None
    source: str

    def changed(self) -> bool:
        if self.stamp is not None:
            try:
                st = os.stat(self.origin_name)
            except OSError:
                return True
            return (st.st_mtime_ns, st.st_size) != self.stamp
        # Not a file (locmem loader, database...): ask the loader again.
        found = tpl.get_template(self.template_name, [])
        return found is None or tpl.source_of(found) != self.source


def dep_of(template: Any, template_name: str) -> Dep:
    origin = getattr(getattr(template, "template", None), "origin", None)
    origin_name = str(getattr(origin, "name", "") or "")
    stamp = None
    if origin_name and os.path.isfile(origin_name):
        st = os.stat(origin_name)
        stamp = (st.st_mtime_ns, st.st_size)
    return Dep(template_name, origin_name, stamp, tpl.source_of(template))


def _forget_miss(name: str) -> None:
    """Un-cache a miss so the per-message pipeline's error lists the paths tried.

    Django's cached loader remembers a missing template without the paths it
    tried (unless debugging templates); the pipeline reports them.
    """
    from django.template import engines
    from django.template.loaders.cached import Loader as CachedLoader

    for backend in engines.all():
        for loader in getattr(getattr(backend, "engine", None), "template_loaders", []):
            if isinstance(loader, CachedLoader):
                loader.get_template_cache.pop(loader.cache_key(name), None)


def tokenize(source: str) -> list[Token]:
    """Django's tokens of ``source``, ``{% comment %}`` blocks left out.

    DebugLexer records each token's (start, end) so the raw text can be kept.
    """
    tokens = []
    in_comment = False
    for token in DebugLexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[:1]
            if name == ["comment"] and not in_comment:
                in_comment = True
                continue
            if name == ["endcomment"] and in_comment:
                in_comment = False
                continue
        if not in_comment:
            tokens.append(token)
    return tokens


def span(token: Token) -> tuple[int, int]:
    """(start, end) of ``token`` in its source (DebugLexer always sets it)."""
    assert token.position is not None
    return token.position[0], token.position[1]


def raw(source: str, token: Token) -> str:
    start, end = span(token)
    return source[start:end]


def literal_name(bit: str, what: str, origin: str) -> str:
    if len(bit) >= 2 and bit[0] == bit[-1] and bit[0] in "\"'":
        return bit[1:-1]
    raise Unprecompilable(
        f"{{% {what} {bit} %}} in '{origin}' names its template with a variable; "
        f"only a quoted name like {{% {what} \"emails/base.html\" %}} can be "
        "compiled once."
    )


@dataclass
class _Block:
    name: str
    nodes: list[Any] = field(default_factory=list)


class _Super:
    """Where ``{{ block.super }}`` stood."""


@dataclass(frozen=True)
class _Text:
    """A piece of a file's source, as written."""

    text: str
    origin: str
    offset: int
    source: str


@dataclass
class _Parsed:
    parent: str | None
    nodes: list[Any]
    blocks: dict[str, _Block]
    loads: list[_Text]


class Flattener:
    """Flatten templates, recording every file used (``deps``)."""

    def __init__(self) -> None:
        self.deps: dict[str, Dep] = {}

    def load(self, name: str, origin: str) -> str:
        tried: list[str] = []
        template = tpl.get_template(name, tried)
        if template is None:
            _forget_miss(name)
            raise Unprecompilable(
                f"'{origin}' uses template {name!r}, which was not found "
                f"(tried {', '.join(tried)})."
            )
        return self.source(template, name)

    def source(self, template: Any, name: str) -> str:
        if not hasattr(getattr(template, "template", None), "engine"):
            raise Unprecompilable(
                f"template {name!r} is not a Django template; only the Django "
                "template engine can be compiled once."
            )
        dep = dep_of(template, name)
        self.deps.setdefault(dep.origin_name or name, dep)
        return dep.source

    def flatten(self, source: str, origin: str, depth: int = 0) -> str:
        """Return ``source`` with extends/blocks/includes resolved."""
        return self.traced(source, origin, depth).text

    def traced(self, source: str, origin: str, depth: int = 0) -> Traced:
        """``flatten()``'s source, each position traced to its file and line."""
        if depth > MAX_DEPTH:
            raise Unprecompilable(
                f"templates nest deeper than {MAX_DEPTH} levels below '{origin}' "
                "(recursive extends or include?)."
            )
        chain = [self._parse(source, origin)]
        while chain[-1].parent is not None:
            parent = chain[-1].parent
            chain.append(self._parse(self.load(parent, origin), parent))
            if len(chain) > MAX_DEPTH:
                raise Unprecompilable(f"'{origin}' extends itself (directly or not).")
        versions: dict[str, list[_Block]] = {}
        for parsed in chain:
            for name, block in parsed.blocks.items():
                versions.setdefault(name, []).append(block)
        body = Traced()
        for parsed in reversed(chain):
            for load in parsed.loads:
                body.add(load.text, load.origin, load.offset, load.source)
        self._emit(chain[-1].nodes, versions, body)
        return self._includes(body, origin, depth)

    def _parse(self, source: str, origin: str) -> _Parsed:
        parent = None
        loads: list[_Text] = []
        root: list[Any] = []
        stack: list[_Block] = []
        blocks: dict[str, _Block] = {}
        seen_content = False
        for token in tokenize(source):
            nodes = stack[-1].nodes if stack else root
            text = raw(source, token)
            piece = _Text(text, origin, span(token)[0], source)
            if token.token_type == TokenType.BLOCK:
                bits = token.split_contents()
                tag = bits[0] if bits else ""
                if tag == "load":
                    loads.append(piece)
                    continue
                if tag == "extends":
                    if seen_content or parent is not None or len(bits) != 2:
                        raise Unprecompilable(
                            f"'{origin}': {{% extends %}} must be the first tag "
                            "and take one quoted template name."
                        )
                    parent = literal_name(bits[1], "extends", origin)
                    continue
                seen_content = True
                if tag == "block":
                    block = _Block(bits[1] if len(bits) > 1 else "")
                    blocks[block.name] = block
                    nodes.append(block)
                    stack.append(block)
                    continue
                if tag == "endblock":
                    if not stack:
                        raise Unprecompilable(f"'{origin}': unbalanced endblock.")
                    stack.pop()
                    continue
            elif token.token_type == TokenType.VAR:
                seen_content = True
                contents = token.contents.strip()
                if contents == "block.super":
                    nodes.append(_Super())
                    continue
                if contents == "block" or contents.startswith(("block.", "block|")):
                    raise Unprecompilable(
                        f"'{origin}' uses {{{{ {contents} }}}}; only a plain "
                        "{{ block.super }} can be compiled once."
                    )
            elif token.token_type == TokenType.TEXT and text.strip():
                seen_content = True
            nodes.append(piece)
        if stack:
            raise Unprecompilable(f"'{origin}': a {{% block %}} is never closed.")
        return _Parsed(parent, root, blocks, loads)

    def _emit(self, nodes: list[Any], versions: dict[str, list[_Block]], out: Traced) -> None:
        for node in nodes:
            if isinstance(node, _Block):
                self._emit_version(versions[node.name], 0, versions, out)
            elif isinstance(node, _Text):
                out.add(node.text, node.origin, node.offset, node.source)
            # block.super outside a block renders nothing

    def _emit_version(self, chain: list[_Block], index: int,
                      versions: dict[str, list[_Block]], out: Traced) -> None:
        for node in chain[index].nodes:
            if isinstance(node, _Super):
                if index + 1 < len(chain):
                    self._emit_version(chain, index + 1, versions, out)
            elif isinstance(node, _Block):
                self._emit_version(versions[node.name], 0, versions, out)
            else:
                out.add(node.text, node.origin, node.offset, node.source)

    def _includes(self, body: Traced, origin: str, depth: int) -> Traced:
        source = body.text
        out = Traced()
        for token in tokenize(source):
            start, end = span(token)
            bits = token.split_contents() if token.token_type == TokenType.BLOCK else []
            if not bits or bits[0] != "include":
                out.copy(body, start, end)
                continue
            if len(bits) < 2:
                raise Unprecompilable(f"'{origin}': {{% include %}} without a name.")
            name = literal_name(bits[1], "include", origin)
            extra = bits[2:]
            if "only" in extra:
                raise Unprecompilable(
                    f"'{origin}' includes {name!r} with 'only'; an isolated "
                    "context can't be flattened, so it renders per message."
                )
            inner = self.traced(self.load(name, origin), name, depth + 1)
            opening, closing = "", ""
            if extra and extra[0] == "with":
                # ``with`` scopes the included template's extra variables exactly
                # like include's own context push.
                opening, closing = "{% with " + " ".join(extra[1:]) + " %}", "{% endwith %}"
            elif "{%" in inner.text:
                # Block tags may assign variables; include keeps them inside.
                opening, closing = "{% txmail_scope %}", "{% endtxmail_scope %}"
            # (Only text and {{ }}: a scope would change nothing.)
            out.point(opening, body, start)
            out.copy(inner)
            out.point(closing, body, start)
        return out


def container_text(template: Any, origin: str) -> tuple[set[str], list["Dropped"]] | None:
    """The text MJML ``template`` writes directly inside containers, and the files read.

    Read flattened, as it renders: a child's blocks inside its base's elements,
    each piece at its own file and line. None when it can't be flattened
    (``{% extends var %}``).
    """
    from ..mjml_text import in_source

    flattener = Flattener()
    try:
        flat = flattener.traced(flattener.source(template, origin), origin)
    except Exception:  # whatever stops flattening, rendering reports
        return None
    files = {dep.origin_name or dep.template_name for dep in flattener.deps.values()}
    return files | {origin}, in_source(flat.text, flat.where)
