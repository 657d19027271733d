"""Derive a clean plain-text part from email HTML.

html2text produces Markdown; an email's text part should read like a letter. So
the HTML is simplified first (hidden preheaders, images, head and comments go;
links become "text (url)"), then html2text runs with emphasis, tables and
Markdown escaping off.
"""

import re
from collections.abc import Callable

import html2text
from lxml import etree
from lxml import html as lxml_html

# Zero-width and filler characters MJML and ESP templates pad preheaders with.
_INVISIBLE = dict.fromkeys(map(ord, "\u034f\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_INVISIBLE_CHARS = tuple(map(chr, _INVISIBLE))
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|mso-hide\s*:\s*all", re.IGNORECASE)
_DROP_TAGS = ("head", "style", "script", "title", "hr", "noscript")
_BLANK_LINES = re.compile(r"\n{3,}")


class _PlainText(html2text.HTML2Text):
    """html2text without Markdown escaping: the output is text, not Markdown."""

    def handle_data(self, data: str, entity_char: bool = False) -> None:
        super().handle_data(data, entity_char=True)


def _converter() -> html2text.HTML2Text:
    h = _PlainText()
    h.body_width = 0  # mail clients wrap; hard wraps break long URLs
    h.ignore_images = True
    h.ignore_emphasis = True
    h.ignore_tables = True  # layout tables must not become Markdown pipes
    h.ignore_links = True  # links are flattened to "text (url)" beforehand
    h.unicode_snob = True  # keep "é" instead of "e"
    h.single_line_break = False
    return h


def link_text(text: str, href: str) -> str:
    """How a link reads in the text part: "text (url)", or the url alone."""
    target = href.removeprefix("mailto:") if href.startswith("mailto:") else href
    if not text or text == target or text == href:
        return target
    return f"{text} ({target})"


_link_text = link_text


def _simplify(
    doc: lxml_html.HtmlElement, link: Callable[[str, str], str] = link_text
) -> None:
    for comment in doc.xpath("//comment()"):
        comment.drop_tree()
    for el in list(doc.iter(*_DROP_TAGS)):
        el.drop_tree()
    for el in doc.xpath("//*[@style]"):
        if _HIDDEN_STYLE.search(el.get("style", "")):
            el.drop_tree()
    for el in doc.iter("h1", "h2", "h3", "h4", "h5", "h6"):
        el.tag = "p"  # headings without "# " markers
    for a in list(doc.iter("a")):
        href = (a.get("href") or "").strip()
        # An image-only link (a logo, a thumbnail) reads as its alt text.
        text = " ".join(a.text_content().split()) or " ".join(
            " ".join(img.get("alt", "").split()) for img in a.iter("img")
        ).strip()
        if not href or href.startswith(("#", "javascript:")):
            a.drop_tag()
            continue
        replacement = lxml_html.Element("span")
        replacement.text = link(text, href)
        replacement.tail = a.tail
        a.getparent().replace(a, replacement)
    for img in list(doc.iter("img")):
        img.drop_tree()


def html_to_text(html: str, *, link: Callable[[str, str], str] = link_text) -> str:
    """Return the plain-text rendering of an email's HTML.

    ``link`` formats each link; the precompiler passes one that marks links
    whose text or URL holds a template tag, to decide them per message.
    """
    if not html.strip():
        return ""
    try:
        doc = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return ""
    _simplify(doc, link)
    return finish_text(_converter().handle(lxml_html.tostring(doc, encoding="unicode")))


def finish_text(text: str) -> str:
    """The last clean-up of a text part (also run on each precompiled render)."""
    # Substring tests first: str.translate and these regexes cost more than
    # the rest of a precompiled render, and most texts need neither.
    if any(char in text for char in _INVISIBLE_CHARS):
        text = text.translate(_INVISIBLE)
    text = "\n".join([line.rstrip() for line in text.replace("\u00a0", " ").splitlines()])
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip() + "\n"
