"""Compile a TemplateSet once: flatten → protect → MJML/CSS/text → verify → restore.

The recipient-independent steps run exactly as in the per-message pipeline
(the same ``mjml_to_html``, ``inline_styles`` and ``html_to_text``), on the
source whose Django tags are placeholders. Restoring the tags into that output
gives Django templates of the HTML and the text part, merged into one
(``onepass``); rendering it is all a message costs.
"""

import re
import time
from dataclasses import dataclass
from typing import Any

from django.template import Context, Template
from lxml import etree
from lxml import html as lxml_html

from ...exceptions import MJMLError
from .. import find as tpl
from .. import mjml_text
from ..markup import has_inline_styles, inline_styles, mjml_prepared_to_html
from ..mjml_source import Prepared, prepare, relative_name
from ..text import finish_text, html_to_text, link_text
from . import branches, edges
from .flatten import Dep, Flattener, Unprecompilable
from .heads import Heads, mark_tags
from .heads import build as build_heads
from .onepass import Piece, html_only, join, one_pass
from .protect import Protector
from .runtime import CompiledTemplate, render_both
from .verify import Spot, check_css, check_variants, line_break_units, locate_html, locate_text

# A "{" the restored template would read as the start of a tag.
_OPEN_BRACE = re.compile(r"\{(?=[{%#]|$)")


def _static(text: str) -> str:
    return _OPEN_BRACE.sub("{% templatetag openbrace %}", text)


# Link markers of the derived text → the runtime's link tags.
_LINK_TAGS = {"a": "{% txmail_link %}", "i": "{% txmail_link images %}",
              "g": "{% txmail_link alt %}",
              "b": "{% txmail_href %}", "c": "{% endtxmail_link %}"}


@dataclass
class Templates:
    """What compiling gives (see ``Compiled``)."""

    html: Template
    runtime: Template
    text: Template | None = None
    heads: Heads | None = None


@dataclass(frozen=True, eq=False)
class Compiled:
    """The compiled templates of one TemplateSet, or why there are none."""

    # The final HTML and derived text as compiled templates (text: None with a
    # .txt template, which renders as usual); ``runtime`` is what a message
    # renders: both in one pass (see onepass), or the HTML alone with a .txt.
    html: Template | None
    text: Template | None
    fallback_reason: str | None
    body_source: str
    text_source: str | None
    deps: tuple[Dep, ...]
    autoescape: bool = True
    compile_seconds: float = 0.0
    runtime: Template | None = None
    heads: Heads | None = None  # the <head> per outcome of the top-level tags
    # Why no message can render (the MJML error MRML or an unknown tag gives),
    # else None; then ``fallback_reason`` says the same.
    error: str | None = None

    def render(self, context: dict[str, Any]) -> tuple[str, str | None]:
        """Render HTML and derived text (None with a .txt) for ``context``.

        Raises ``NeedsFallback`` when a value needs the full pipeline.
        """
        if self.runtime is None:
            raise RuntimeError("render() of a template that falls back; render in full.")
        ctx = Context(context, autoescape=self.autoescape)
        if self.heads is not None:
            ctx.txmail_marks = set()  # type: ignore[attr-defined]
        html, text = render_both(self.runtime, ctx)
        if self.heads is not None:
            html = self.heads.apply(html, ctx.txmail_marks)  # type: ignore[attr-defined]
        if self.text is None:
            return html, None
        return html, finish_text(text)

    def changed(self) -> bool:
        return any(dep.changed() for dep in self.deps)


class _Build:
    def __init__(self, owner: str, templates: tpl.TemplateSet) -> None:
        self.owner = owner
        self.templates = templates
        self.origin = templates.body_origin
        self.flattener = Flattener()
        engine = getattr(getattr(templates.body, "template", None), "engine", None)
        self.autoescape = bool(getattr(engine, "autoescape", True))
        self.included: dict[str, str] = {}
        on_include = self.include if templates.kind == "mjml" else None
        self.prot = Protector(on_include)
        n = self.prot.nonce
        # Link markers in the derived text: a (or i: the link holds images; g:
        # its text is their alt text), text, b, URL, c.
        self.marks = {m: f"tx{n}l{m}" for m in "abcig"}
        self.text_pattern = re.compile(rf"{self.prot.prefix}(\d+)q|tx{n}l([abcig])")
        self.image_links: dict[str, bool] = {}  # href → the link has no text of its own
        self.line_breaks: set[int] = set()
        self.head_marks: dict[int, str] = {}  # unit id → {% txmail_mark %} after it
        self.branch_groups: set[int] = set()  # see branches

    def link(self, text: str, href: str) -> str:
        # Links holding a tag are decided per message (text == url or not…).
        if self.prot.pattern.search(text) or self.prot.pattern.search(href):
            m = self.marks
            alt = self.image_links.get(href)
            start = m["a"] if alt is None else m["g"] if alt else m["i"]
            return f"{start}{text}{m['b']}{href}{m['c']}"
        return link_text(text, href)

    def settle(self, text: str) -> str:
        """Links of the derived ``text`` (edited by the verifier) that no longer hold
        a tag, as the text part writes them: ``link_text`` of the same text and URL."""
        m = self.marks
        links = re.compile(
            rf"(?:{m['a']}|{m['i']}|{m['g']})(.*?){m['b']}(.*?){m['c']}", re.DOTALL
        )

        def one(link: re.Match[str]) -> str:
            if self.text_pattern.search(link.group(1) + link.group(2)):
                return link.group(0)  # still decided per message
            return link_text(link.group(1), link.group(2))

        return links.sub(one, text)

    def include(self, path: str, including: str) -> None:
        """Flatten and protect an mj-included file when its tag is met.

        The name is resolved as ``mjml_source`` resolves it: a template name as
        written, else relative to the including file's folder.
        """
        name = path.removeprefix("./")
        if self.prot.pattern.search(name) or name in self.included:
            return
        try:
            source = self.flattener.load(name, self.origin)
        except Unprecompilable:
            relative = relative_name(path, including, top=including == self.origin)
            if relative is None:
                raise
            name = relative
            if name in self.included:
                return
            source = self.flattener.load(name, self.origin)
        self.included[name] = ""  # a file including itself stops here
        flat = self.flattener.traced(source, name)
        self.included[name] = self.prot.protect(flat, name)

    def prepare(self, sources: dict[str, str]) -> Prepared:
        """The MRML-ready document of protected ``sources`` (mj-includes resolved)."""

        def include(name: str) -> str:
            if self.prot.pattern.search(name):
                raise Unprecompilable(
                    f"an <mj-include> path in '{self.origin}' is a variable."
                )
            if name not in sources:
                raise Unprecompilable(
                    f"<mj-include path=\"{name}\"> in '{self.origin}' isn't "
                    "written as a plain tag the precompiler can find."
                )
            return sources[name]

        def locate(origin: str, offset: int) -> tuple[str, int] | None:
            # Lines of the files the flattened, protected sources came from.
            traced = self.prot.traced.get(origin)
            return traced.where(offset) if traced is not None else None

        return prepare(sources[""], origin=self.origin, include_loader=include,
                       placeholder=self.prot.pattern, locate=locate)

    def run(self, sources: dict[str, str]) -> tuple[str, str | None]:
        """The per-message pipeline's compile steps, on protected sources."""
        if self.templates.kind == "mjml":
            html = mjml_prepared_to_html(self.prepare(sources), origin=self.origin)
        else:
            html = inline_styles(sources[""])
        if self.templates.text is not None:
            return html, None
        self.image_links = _image_link_hrefs(html)
        return html, self.tidy(html_to_text(html, link=self.link))

    def tidy(self, text: str) -> str:
        """Undo the line layout html2text gave block tags' placeholders.

        Without the placeholder, the text after a block tag would start its line
        (html2text wouldn't put a space before it), and a line holding only
        block tags wouldn't exist: drop that space and that line's newline.
        """
        units = self.prot.units
        token = rf"{self.prot.prefix}(\d+)q"

        def structural(tokens: str) -> bool:
            ids = re.findall(token, tokens)
            return bool(ids) and all(units[int(i)].kind != "out" for i in ids)

        def alone(match: re.Match[str]) -> str:
            return match.group(1) if structural(match.group(1)) else match.group(0)

        text = re.sub(rf"(?m)^((?:{token})+) +", alone, text)
        return re.sub(rf"(?m)^((?:{token})+)\n", alone, text)

    def pieces(self, output: str, spots: list[Spot], part: str, chain: str) -> list[Piece]:
        """Cut ``output`` at its placeholders (and link markers) into template pieces."""
        pieces: list[Piece] = []
        last = 0
        matches = self.prot.pattern.finditer(output) if part == "h" else (
            self.text_pattern.finditer(output)
        )
        spot_iter = iter(spots)
        for match in matches:
            pieces.append(Piece("static", _static(output[last:match.start()])))
            last = match.end()
            if match.group(1) is None:  # link marker (text part only)
                pieces.append(Piece("link", _LINK_TAGS[match.group(2)]))
                continue
            unit_id, where = next(spot_iter)
            unit = self.prot.units[unit_id]
            if unit.kind != "out":
                pieces.extend(self.block_pieces(unit_id, where, part))
                continue
            if where == "text" and unit_id in self.line_breaks:
                where = "lines"  # text that may hold <br> (see line_break_units)
            code = part + {"text": "t", "lines": "b", "attr": "a", "url": "u"}[where]
            code += "-" + chain
            if not self.autoescape:
                code += "-raw"
            pieces.append(Piece("out", unit.raw, unit_id, code))
        pieces.append(Piece("static", _static(output[last:])))
        return pieces

    def check_unquoted(self, document: Prepared) -> None:
        """Refuse a tag in an unquoted attribute value: a value with a space
        would end it in the per-message pipeline, not in the compiled one."""
        for value in document.unquoted:
            found = self.prot.pattern.search(value.value)
            if found:
                raw = self.prot.units[int(found.group(1))].raw
                raise Unprecompilable(
                    f"{raw} is in the unquoted value of {value.name!r} (line "
                    f"{value.line} of '{value.origin}'); quote the value of "
                    f"{value.name} ({value.name}=\"…\") to compile it once."
                )

    def check_container_text(self, document: Prepared) -> None:
        """Warn of static text MJML drops; refuse a value there (it is dropped
        per message, with its own warning)."""
        mjml_text.warn(document, self.origin)
        for token, element in document.container_tokens:
            unit = self.prot.units[int(self.prot.pattern.fullmatch(token).group(1))]  # type: ignore[union-attr]
            if unit.kind == "out":
                raise Unprecompilable(
                    f"{unit.raw} stands directly inside <{element}>, where MJML drops "
                    "text; put it in an <mj-text>."
                )

    def block_pieces(self, unit_id: int, where: str, part: str) -> list[Piece]:
        """A block tag, with the marks the one-pass template reads (heads, branches)."""
        unit = self.prot.units[unit_id]
        group = self.prot.groups[unit.group] if unit.group is not None else None
        if where == "branch" and group is not None:  # text part, inside a link
            return [Piece("mark", branches.text_tag(group, group.units.index(unit_id)))]
        pieces = [Piece("block", unit.raw, unit_id)]
        if part == "h" and unit_id in self.head_marks:
            pieces.append(Piece("mark", self.head_marks[unit_id]))
        if part == "h" and group is not None and group.id in self.branch_groups:
            index = group.units.index(unit_id)
            if index == 0:
                pieces.insert(0, Piece("mark", branches.took(group, -1)))
            if index < len(group.units) - 1:
                pieces.append(Piece("mark", branches.took(group, index)))
        return pieces

    def head(self) -> str:
        """What every compiled template starts with: the loads and the prologue."""
        return "".join(dict.fromkeys(self.prot.loads)) + "".join(self.prot.prologue)

    def compile(self) -> "Templates":
        body = self.templates.body
        flat = self.flattener.traced(
            self.flattener.source(body, self.templates.name), self.origin
        )
        sources = {"": self.prot.protect(flat, self.origin, top=True)}
        sources.update(self.included)
        html, text = self.run(sources)
        # What MRML reads: includes resolved (a css include is an <mj-style>),
        # <mj-raw> contents aside.
        read = dict(sources)
        if self.templates.kind == "mjml":
            document = self.prepare(sources)
            self.check_unquoted(document)
            self.check_container_text(document)
            read["(MJML document)"] = document.text
        check_css(self.prot, read)
        html_spots, attr_groups = locate_html(html, self.prot)
        text_spots = None if text is None else locate_text(
            text, self.prot, self.text_pattern, attr_groups
        )
        head_reason = check_variants(
            self.prot, dict(sources), html, text, self.run, self.settle
        )
        heads = None
        if head_reason is not None:
            heads = build_heads(
                self.prot, dict(sources), html, text, self.run, head_reason, self.settle
            )
            self.head_marks = mark_tags(self.prot, heads)
        # Which tools wrote the final HTML: MRML, premailer's lxml, or both.
        if self.templates.kind == "html":
            chain = "x"
        elif has_inline_styles(read["(MJML document)"]):
            chain = "mx"
        else:
            chain = "m"
        self.line_breaks = line_break_units(
            self.prot, sources, html, text, html_spots, chain, self.run
        )
        if text_spots is not None:
            self.branch_groups = {
                self.prot.units[u].group  # type: ignore[misc]
                for u, where in text_spots if where == "branch"
            }
        engine = body.template.engine
        cut = html if heads is None else heads.cut(html)
        html_pieces = edges.annotate_html(self.pieces(cut, html_spots, "h", chain))
        html_template = self.template(join(html_pieces), "HTML", engine)
        if text is None or text_spots is None:
            runtime = self.template(html_only(html_pieces), "HTML", engine)
            return Templates(html_template, runtime, heads=heads)
        text_pieces = edges.annotate(
            self.pieces(text, text_spots, "t", chain), html, html_spots, text, self.prot,
            lambda probe: self.tidy(html_to_text(probe, link=self.link)), self.text_pattern,
        )
        return Templates(
            html_template,
            self.template(one_pass(html_pieces, text_pieces), "HTML and text", engine),
            self.template(join(text_pieces), "text", engine),
            heads,
        )

    def template(self, body: str, part: str, engine: Any) -> Template:
        return CompiledTemplate(
            self.head() + body, engine=engine, name=f"{self.origin} (txmail compiled {part})"
        )


def _image_link_hrefs(html: str) -> dict[str, bool]:
    """Links that hold an image: URL → whether the link has no text of its own.

    text.py reads a link without text as its images' alt text.
    """
    try:
        doc = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return {}
    return {
        (a.get("href") or "").strip(): not a.text_content().strip() for a in doc.iter("a")
        if next(a.iter("img"), None) is not None
    }


def compile_templates(owner: str, templates: tpl.TemplateSet) -> Compiled:
    """Compile ``templates``; on any doubt return a Compiled with a fallback reason."""
    started = time.perf_counter()
    build = _Build(owner, templates)
    compiled = None
    reason = error = None
    try:
        compiled = build.compile()
    except Unprecompilable as exc:
        reason = str(exc)
    except MJMLError as exc:  # MRML refuses the markup: every message would fail
        reason = error = str(exc)
    except Exception as exc:  # the per-message pipeline will report real errors
        reason = f"compiling with placeholders failed ({type(exc).__name__}: {exc})"
    if templates.text is not None:
        try:  # DEBUG notices edits of the .txt like any other file
            build.flattener.source(templates.text, templates.name + tpl.TEXT_EXTENSION)
        except Unprecompilable:
            pass
    engine = getattr(getattr(templates.body, "template", None), "engine", None)
    return Compiled(
        html=compiled.html if compiled else None,
        text=compiled.text if compiled else None,
        runtime=compiled.runtime if compiled else None,
        heads=compiled.heads if compiled else None,
        fallback_reason=reason,
        error=error,
        body_source=tpl.source_of(templates.body),
        text_source=None if templates.text is None else tpl.source_of(templates.text),
        deps=tuple(build.flattener.deps.values()),
        autoescape=bool(getattr(engine, "autoescape", True)),
        compile_seconds=time.perf_counter() - started,
    )
