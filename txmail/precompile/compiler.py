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

from .. import templates as tpl
from ..compile import has_inline_styles, inline_styles, mjml_to_html
from ..text import finish_text, html_to_text, link_text
from . import edges
from .flatten import Dep, Flattener, Unprecompilable
from .onepass import Piece, html_only, join, one_pass
from .protect import Protector
from .runtime import CompiledTemplate, render_both
from .verify import (
    Spot,
    check_css,
    check_variants,
    line_break_units,
    locate_html,
    locate_text,
)

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

    def render(self, context: dict[str, Any]) -> tuple[str, str | None]:
        """Render HTML and derived text (None with a .txt) for ``context``.

        Raises ``NeedsFallback`` when a value needs the full pipeline.
        """
        if self.runtime is None:
            raise RuntimeError("render() of a template that falls back; render in full.")
        html, text = render_both(self.runtime, Context(context, autoescape=self.autoescape))
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

    def link(self, text: str, href: str) -> str:
        # Links holding a tag are decided per message (text == url or not…).
        if self.prot.pattern.search(text) or self.prot.pattern.search(href):
            m = self.marks
            alt = self.image_links.get(href)
            start = m["a"] if alt is None else m["g"] if alt else m["i"]
            return f"{start}{text}{m['b']}{href}{m['c']}"
        return link_text(text, href)

    def include(self, path: str) -> None:
        """Flatten and protect an mj-included file when its tag is met."""
        name = path.removeprefix("./")
        if name not in self.included and not self.prot.pattern.search(name):
            self.included[name] = ""  # a file including itself stops here
            source = self.flattener.load(name, self.origin)
            flat = self.flattener.flatten(source, name)
            self.included[name] = self.prot.protect(flat, name)

    def run(self, sources: dict[str, str]) -> tuple[str, str | None]:
        """The per-message pipeline's compile steps, on protected sources."""
        if self.templates.kind == "mjml":

            def include(path: str) -> str:
                name = path.removeprefix("./")
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

            html = mjml_to_html(sources[""], origin=self.origin, include_loader=include)
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
                pieces.append(Piece("block", unit.raw, unit_id))
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

    def head(self) -> str:
        """What every compiled template starts with: the loads and the prologue."""
        return "".join(dict.fromkeys(self.prot.loads)) + "".join(self.prot.prologue)

    def compile(self) -> "Templates":
        body = self.templates.body
        flat = self.flattener.flatten(
            self.flattener.source(body, self.templates.name), self.origin
        )
        sources = {"": self.prot.protect(flat, self.origin, top=True)}
        sources.update(self.included)
        html, text = self.run(sources)
        check_css(self.prot, sources)
        html_spots = locate_html(html, self.prot)
        text_spots = None if text is None else locate_text(text, self.prot, self.text_pattern)
        check_variants(self.prot, dict(sources), html, text, self.run)
        # Which tools wrote the final HTML: MRML, premailer's lxml, or both.
        if self.templates.kind == "html":
            chain = "x"
        elif any(has_inline_styles(s) for s in sources.values()):
            chain = "mx"
        else:
            chain = "m"
        self.line_breaks = line_break_units(
            self.prot, sources, html, text, html_spots, chain, self.run
        )
        engine = body.template.engine
        html_pieces = edges.annotate_html(self.pieces(html, html_spots, "h", chain))
        html_template = self.template(join(html_pieces), "HTML", engine)
        if text is None or text_spots is None:
            runtime = self.template(html_only(html_pieces), "HTML", engine)
            return Templates(html_template, runtime)
        text_pieces = edges.annotate(
            self.pieces(text, text_spots, "t", chain), html, html_spots, text, self.prot,
            lambda probe: self.tidy(html_to_text(probe, link=self.link)), self.text_pattern,
        )
        return Templates(
            html_template,
            self.template(one_pass(html_pieces, text_pieces), "HTML and text", engine),
            self.template(join(text_pieces), "text", engine),
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
    reason = None
    try:
        compiled = build.compile()
    except Unprecompilable as exc:
        reason = str(exc)
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
        fallback_reason=reason,
        body_source=tpl.source_of(templates.body),
        text_source=None if templates.text is None else tpl.source_of(templates.text),
        deps=tuple(build.flattener.deps.values()),
        autoescape=bool(getattr(engine, "autoescape", True)),
        compile_seconds=time.perf_counter() - started,
    )
