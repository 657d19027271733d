"""Bring MJML source to what MRML parses, reading it as the official compiler does.

MRML (the Rust MJML compiler) is stricter than mjml-js, the reference. Before
MRML sees a document, ``prepare`` makes it the document mjml-js would build:

* ``<mj-include>`` is resolved here, recursively, through the caller's loader
  (Django's template loaders): ``type="css"`` becomes an ``<mj-style>`` (with
  ``inline="inline"`` for ``css-inline="inline"``) at the end of ``<mj-head>``,
  ``type="html"`` an ``<mj-raw>``, and an MJML partial its ``<mj-body>``
  children in place plus its ``<mj-head>`` children at the end of the head
  (mjml-parser-xml's ``handleInclude``). MRML rejects a css include inside an
  included head partial.
* unquoted attribute values (``font-weight=400``) are quoted, and end tags of
  void elements (``</img>``) dropped, as an HTML parser reads them.
* ``<mj-raw>`` content is kept verbatim, as mjml-js keeps it: MRML parses it as
  elements, so a ``<div>`` opened in one ``<mj-raw>`` and closed in a later one
  swallowed the sections between them. Each content is swapped for a token
  MRML passes through and put back by ``Prepared.finish``, which also moves it
  out of the Outlook-only comments MRML wraps around ``<mj-wrapper>``
  children (mjml-js writes raw children of a wrapper outside them).

Text directly inside a container (``</mj-column>a``) is dropped as mjml-js
drops it (``mjml_text``).

An ``<mj-…>`` tag that isn't MJML 4's is refused here, with its file, line and
the closest known tag (``mjml_tags``): MRML would drop it and its content.
When MRML still refuses the document, ``Prepared.error`` names the file and
line it points at.
"""

import bisect
import os
import posixpath
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from ..exceptions import MJMLError
from . import mjml_tags, mjml_text

IncludeLoader = Callable[[str], str]
# (origin, offset in the source given for it) → (file, line) of a generated source.
Locate = Callable[[str, int], "tuple[str, int] | None"]
MAX_DEPTH = 20

VOID = (
    "area|base|br|col|embed|hr|img|input|link|meta|param|source|track|wbr"
)
# One alternative per construct, tried left to right at each "<".
_SCAN = re.compile(
    r"(?P<comment><!--.*?-->)"
    r"|(?P<css><(?P<ctag>mj-style|style)\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>.*?</(?P=ctag)\s*>)"
    r"|(?P<raw><mj-raw\b(?P<rattrs>(?:[^>\"'/]|\"[^\"]*\"|'[^']*'|/(?!>))*)>"
    r"(?P<rbody>.*?)</mj-raw\s*>)"
    r"|(?P<include><mj-include\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*?/?>(?:\s*</mj-include\s*>)?)"
    rf"|(?P<voidend></(?:{VOID})\s*>)"
    r"|(?P<tag><[A-Za-z][\w:.-]*(?:[^>\"']|\"[^\"]*\"|'[^']*')*>)",
    re.IGNORECASE | re.DOTALL,
)
_ATTR = re.compile(
    r"""(\s+)([^\s"'>/=]+)(?:(\s*=\s*)("[^"]*"|'[^']*'|[^\s"'>]+))?""", re.DOTALL
)
_KINDS = ("comment", "css", "raw", "include", "voidend", "tag")
_MJ_HEAD_END = re.compile(r"</mj-head\s*>", re.IGNORECASE)
_MJML_OPEN = re.compile(r"<mjml\b[^>]*>", re.IGNORECASE)
_PART = re.compile(r"<(mj-head|mj-body)\b[^>]*>(.*)</\1\s*>", re.IGNORECASE | re.DOTALL)
_POSITION = re.compile(r"at position (\d+)(?::(\d+))?")
_ELEMENT = re.compile(
    r"<(/?)([A-Za-z][\w:.-]*)(?:[^>\"']|\"[^\"]*\"|'[^']*')*?(/?)>|<!--.*?-->",
    re.DOTALL,
)
_TAG_NAME = re.compile(r"</?[^\s>/]*")
_TAG_START = re.compile(r"<([A-Za-z][\w:.-]*)")
_TAG_BODY = re.compile(r"(?:[^\"'<>]|\"[^\"]*\"|'[^']*')*")
_OUTLOOK = re.compile(r"<!--\[if mso \| IE\]>(.*?)<!\[endif\]-->", re.DOTALL)


@dataclass(frozen=True)
class Unquoted:
    """An attribute value that was written without quotes."""

    origin: str
    line: int
    name: str
    value: str


@dataclass
class Prepared:
    """The document MRML gets, and how to read its output and errors back."""

    text: str = ""
    raws: dict[str, str] = field(default_factory=dict)  # token → verbatim content
    unquoted: list[Unquoted] = field(default_factory=list)
    # (offset in ``text``, file, offset in that file's source, that source)
    anchors: list[tuple[int, str, int, str]] = field(default_factory=list)
    # Text directly inside containers, removed (mjml_text), and the precompiler's
    # stand-ins found there: (stand-in, element).
    dropped: list["mjml_text.Dropped"] = field(default_factory=list)
    container_tokens: list[tuple[str, str]] = field(default_factory=list)
    # Set when the sources were generated (flattened): where their text was written.
    locate: Locate | None = None

    def finish(self, html: str) -> str:
        """Put ``<mj-raw>`` contents back, outside Outlook-only comments."""
        if not self.raws:
            return html
        html = _OUTLOOK.sub(self._unwrap, html)
        for token, content in self.raws.items():
            html = html.replace(token, content, 1)
        return html

    def _unwrap(self, comment: re.Match[str]) -> str:
        body = comment.group(1)
        if not any(token in body for token in self.raws):
            return comment.group(0)
        # Split the comment around each token: Outlook still reads the same
        # sequence, and every other client now sees the raw content too.
        pattern = "(" + "|".join(re.escape(t) for t in self.raws if t in body) + ")"
        out = []
        for i, part in enumerate(re.split(pattern, body)):
            if i % 2:
                out.append(part)
            elif part:
                out.append(f"<!--[if mso | IE]>{part}<![endif]-->")
        return "".join(out)

    def where(self, position: int) -> tuple[str, int]:
        """(file, line) of ``position`` in ``text``."""
        index = bisect.bisect_right([a[0] for a in self.anchors], position) - 1
        if index < 0:
            return "", 1
        start, origin, file_offset, source = self.anchors[index]
        return self.line(origin, min(file_offset + position - start, len(source)), source)

    def line(self, origin: str, offset: int, source: str) -> tuple[str, int]:
        """(file, line) of ``offset`` in ``source``, the text given for ``origin``."""
        found = self.locate(origin, offset) if self.locate is not None else None
        return found or (origin, source.count("\n", 0, offset) + 1)

    def unclosed(self) -> tuple[str, int] | None:
        """The first element of ``text`` left open: (tag name, position)."""
        stack: list[tuple[str, int]] = []
        for match in _ELEMENT.finditer(self.text):
            if match.group(2) is None:  # a comment
                continue
            closing, name, end = match.group(1), match.group(2).lower(), match.group(3)
            if end or re.fullmatch(VOID, name):
                continue
            if not closing:
                stack.append((name, match.start()))
            elif any(open_name == name for open_name, _ in stack):
                if stack[-1][0] != name:
                    return stack[-1]  # closed by an outer element's end tag
                stack.pop()
        return stack[-1] if stack else None

    def unterminated(self) -> tuple[str, int] | None:
        """The first tag of ``text`` whose quotes or '>' are missing: (name, position)."""
        for start in _TAG_START.finditer(self.text):
            body = _TAG_BODY.match(self.text, start.end())
            if body is None or not self.text.startswith(">", body.end()):
                return start.group(1), start.start()
        return None

    def error(self, origin: str, exc: Exception) -> MJMLError:
        """MRML's refusal, with the file and line it points at and the fix."""
        reason = str(exc)
        where = ""
        match = _POSITION.search(reason)
        position = int(match.group(1)) if match else None
        if match:
            reason = reason[:match.start()].rstrip()
        fix = _fix(reason)
        unclosed = self.unclosed() if "end of stream" in reason else None
        if unclosed is not None:
            tag, position = unclosed
            reason = f"<{tag}> is never closed ({reason})"
            fix = f"Close it with </{tag}>, or write <{tag} /> if it holds nothing"
        if "unable to parse" in reason and position is None:
            broken = self.unterminated()
            if broken is not None:
                tag, position = broken
                reason = f"the <{tag}> tag doesn't end ({reason})"
                fix = "Close the quotes of its attribute values and end it with '>'"
        if position is not None:
            file, line = self.where(position)
            where = f" (line {line} of '{file}')" if file and file != origin else (
                f" (line {line})"
            )
        return MJMLError(
            f"MJML error in template '{origin}'{where}: {reason}. "
            f"{fix} (see https://documentation.mjml.io/ for valid tags "
            "and attributes)."
        )


def _fix(reason: str) -> str:
    if "unexpected end of stream" in reason:
        return "Close every tag that is opened"
    if "unexpected element" in reason or "unexpected token" in reason:
        return "Use only MJML elements where the error points, and close each HTML tag"
    if "unable to parse" in reason:
        return "Check the quotes and brackets of the tag after the last valid one"
    return "Fix the MJML markup"


class _Builder:
    def __init__(
        self, loader: IncludeLoader, origin: str, prepared: Prepared, head: list[str],
        placeholder: "re.Pattern[str] | None" = None,
    ) -> None:
        self.placeholder = placeholder  # a tag name holding one is decided per message
        self.loader = loader
        self.origin = origin
        self.nonce = secrets.token_hex(4)
        self.prepared = prepared  # shared by the builders of one document
        self.anchors: list[tuple[int, str, int, str]] = []
        self.parts: list[str] = []
        self.length = 0
        self.head = head  # mjml-js appends these to <mj-head>

    def emit(self, text: str, origin: str, offset: int, source: str) -> None:
        if text:
            self.anchors.append((self.length, origin, offset, source))
            self.parts.append(text)
            self.length += len(text)

    def file(
        self, source: str, origin: str, chain: tuple[str, ...],
        start: int = 0, end: int | None = None,
    ) -> None:
        """Emit ``source[start:end]`` (of file ``origin``) normalised."""
        end = len(source) if end is None else end
        last = start
        for match in _SCAN.finditer(source, start, end):
            self.emit(source[last:match.start()], origin, last, source)
            last = match.end()
            at = match.start()
            kind = next(k for k in _KINDS if match.group(k) is not None)
            text = match.group(0)
            if kind == "comment":
                self.emit(text, origin, at, source)
            elif kind == "css":
                head_end = text.index(">") + 1
                self.emit(self.tag(text[:head_end], origin, source, at), origin, at, source)
                self.emit(text[head_end:], origin, at + head_end, source)
            elif kind == "raw":
                self.raw(match, origin, source)
            elif kind == "include":
                self.include(self.tag(text, origin, source, at), origin, chain)
            elif kind == "voidend":
                continue  # </img>: an HTML parser ignores it, MRML refuses it
            else:
                self.known(text, origin, source, at)
                self.emit(self.tag(text, origin, source, at), origin, at, source)
        self.emit(source[last:end], origin, last, source)

    def known(self, text: str, origin: str, source: str, offset: int) -> None:
        """Refuse a tag that isn't MJML 4's (MRML would drop it silently)."""
        name = _TAG_START.match(text).group(1)  # type: ignore[union-attr]
        if not name.lower().startswith(("mj-", "mjml")) or mjml_tags.is_known(name):
            return
        if self.placeholder is not None and self.placeholder.search(name):
            return
        origin, line = self.prepared.line(origin, offset, source)
        where = f"line {line}" if origin == self.origin else f"line {line} of '{origin}'"
        unknown = mjml_tags.UnknownTag(name, line, mjml_tags.closest(name))
        raise MJMLError(f"MJML error in template '{self.origin}' ({where}): "
                        f"{unknown.problem()}. Fix the tag's name.")

    def raw(self, match: re.Match[str], origin: str, source: str) -> None:
        start = match.start()
        opening = "<mj-raw" + match.group("rattrs") + ">"
        self.emit(self.tag(opening, origin, source, start), origin, start, source)
        body = match.group("rbody")
        # Empty ones too: the Outlook comments are split at every <mj-raw>, so a
        # template tag that renders nothing gives the HTML it gives as a tag.
        token = f"txraw{self.nonce}n{len(self.prepared.raws)}r"
        self.prepared.raws[token] = body
        self.emit(token, origin, match.start("rbody"), source)
        self.emit("</mj-raw>", origin, match.start("rbody") + len(body), source)

    def tag(self, text: str, origin: str, source: str, offset: int) -> str:
        """``text`` with unquoted attribute values quoted."""
        if "=" not in text:
            return text
        name_end = _TAG_NAME.match(text).end()  # type: ignore[union-attr]
        attrs = text[name_end:]

        def quote(attr: re.Match[str]) -> str:
            value = attr.group(4)
            if value is None or value[0] in "\"'":
                return attr.group(0)
            slash = ""
            if value.endswith("/") and attrs[attr.end():] == ">":
                value, slash = value[:-1], "/"  # <mj-image width=40/>
            file, line = self.prepared.line(origin, offset + name_end + attr.start(), source)
            self.prepared.unquoted.append(Unquoted(file, line, attr.group(2), value))
            return f'{attr.group(1)}{attr.group(2)}="{value}"{slash}'

        return text[:name_end] + _ATTR.sub(quote, attrs)

    def include(self, tag: str, origin: str, chain: tuple[str, ...]) -> None:
        attrs = {
            m.group(2).lower(): (m.group(4) or "").strip("\"'")
            for m in _ATTR.finditer(tag[len("<mj-include"):])
        }
        path = attrs.get("path", "")
        if not path:
            raise MJMLError(
                f"MJML error in template '{self.origin}': an <mj-include> in "
                f"'{origin}' has no path. Add path=\"…\" (a template name)."
            )
        name, content = self.load(path, origin)
        if name in chain or len(chain) > MAX_DEPTH:
            raise MJMLError(
                f"MJML error in template '{self.origin}': '{origin}' includes "
                f"{name!r}, which includes it again. Remove the circular <mj-include>."
            )
        kind = attrs.get("type", "mjml").lower()
        if kind == "css":
            inline = ' inline="inline"' if attrs.get("css-inline") == "inline" else ""
            self.head.append(f"<mj-style{inline}>{content}</mj-style>")
            return
        if kind == "html":
            token = f"txraw{self.nonce}n{len(self.prepared.raws)}r"
            self.prepared.raws[token] = content
            self.emit(f"<mj-raw>{token}</mj-raw>", name, 0, content)
            return
        chain = (*chain, name)
        if not _MJML_OPEN.search(content):
            self.file(content, name, chain)
            return
        # A whole document: its body's children in place, its head's appended
        # to the including document's head.
        for part in _PART.finditer(content):
            if part.group(1).lower() == "mj-body":
                self.file(content, name, chain, part.start(2), part.end(2))
            else:
                head = _Builder(self.loader, self.origin, self.prepared, self.head,
                                self.placeholder)
                head.nonce = self.nonce
                head.file(content, name, chain, part.start(2), part.end(2))
                self.head.append("".join(head.parts))

    def load(self, path: str, origin: str) -> tuple[str, str]:
        """(name, source) of an included path: a template name as written, else
        relative to the including file's folder (as mjml-js resolves it)."""
        name = path.removeprefix("./")
        try:
            return name, self.loader(name)
        except Exception:
            relative = relative_name(path, origin, top=origin == self.origin)
            if relative is None:
                raise
            try:
                return relative, self.loader(relative)
            except Exception:
                pass
            raise


def relative_name(path: str, including: str, *, top: bool) -> str | None:
    """The template name of ``path`` relative to the folder of the file including it.

    ``including`` is an included file's template name, or (``top``) the body
    template's origin, whose name is its path below a template directory.
    """
    if path.startswith("/"):
        return None
    folder = _folder_of_origin(including) if top else posixpath.dirname(including)
    if not folder:
        return None
    return posixpath.normpath(posixpath.join(folder, path))


def _folder_of_origin(origin: str) -> str:
    from django.template import engines

    for backend in engines.all():
        engine = getattr(backend, "engine", None)
        dirs = [d for loader in getattr(engine, "template_loaders", ())
                if hasattr(loader, "get_dirs") for d in loader.get_dirs()]
        for directory in dirs:
            directory = os.path.join(str(directory), "")
            if origin.startswith(directory):
                return posixpath.dirname(origin[len(directory):].replace(os.sep, "/"))
    return posixpath.dirname(origin) if not os.path.isabs(origin) else ""


def prepare(source: str, *, origin: str, include_loader: IncludeLoader,
            placeholder: "re.Pattern[str] | None" = None,
            locate: Locate | None = None) -> Prepared:
    """The MRML-ready document of MJML ``source`` (see the module docstring).

    ``placeholder`` matches the precompiler's stand-ins for Django tags: a tag
    name holding one isn't judged. ``locate`` gives the file and line of a
    position in a generated source (a flattened ``{% extends %}``).
    """
    prepared = Prepared(locate=locate)
    builder = _Builder(include_loader, origin, prepared, [], placeholder)
    builder.file(source, origin, (origin,))
    text = "".join(builder.parts)
    anchors = builder.anchors
    if builder.head:
        extra = "".join(builder.head)
        end = _MJ_HEAD_END.search(text)
        if end is not None:
            at = end.start()
        else:
            opening = _MJML_OPEN.search(text)
            at = opening.end() if opening else 0
            extra = f"<mj-head>{extra}</mj-head>"
        text = text[:at] + extra + text[at:]
        # Offsets after the insertion move by its length (for error lines).
        anchors = [
            (o + len(extra) if o >= at else o, file, offset, src)
            for o, file, offset, src in anchors
        ]
    prepared.text = text
    prepared.anchors = anchors
    mjml_text.drop(prepared, placeholder)
    return prepared
