"""Accessibility: language and direction, alt text, layout tables, link text,
colour contrast (WCAG 2.x AA) and heading order.

Hidden text (a preheader hidden with ``display:none``, ``max-height:0``,
``opacity:0`` or ``font-size:0``) is not read for contrast or link text: no
reader sees it. ``mso-hide:all`` hides text from Outlook for Windows only, so
text under it is checked.
"""

import posixpath
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from . import document
from .colors import contrast, hex_color
from .document import Document, Element
from .findings import Finding, Severity

# Languages written right to left (their primary subtag).
RTL_LANGUAGES = {"ar", "arc", "ckb", "dv", "fa", "he", "iw", "ks", "ku", "ps", "sd", "ug",
                 "ur", "yi"}
# Link text that doesn't say where the link goes (WCAG 2.4.4), compared lower-cased
# without punctuation.
VAGUE_LINK_TEXT = {"click here", "here", "click", "read more", "more", "link", "this link",
                   "learn more", "go", "this", "click this link", "more info"}
_URL_TEXT = re.compile(r"^(?:https?://|www\.)\S+$", re.IGNORECASE)
# WCAG 2.x AA: 4.5:1 for normal text, 3:1 for large text (24px, or 18.66px bold).
NORMAL_RATIO = 4.5
LARGE_RATIO = 3.0


def check(variant: Any) -> Iterable[Finding]:
    """Check a rendered variant's HTML (``variant.html``, ``variant.language``)."""
    html = getattr(variant, "html", None)
    if not html:
        return []
    return check_html(html, language=getattr(variant, "language", None))


def check_html(html: str, *, language: str | None = None) -> list[Finding]:
    """Every accessibility finding for ``html``; ``language`` is the message's, if known."""
    doc = document.parse(html)
    return [
        *language_findings(doc, language), *image_findings(doc), *table_findings(doc),
        *link_text_findings(doc), *contrast_findings(doc), *heading_findings(doc),
    ]


def language_findings(doc: Document, language: str | None = None) -> list[Finding]:
    root = doc.first("html")
    attrs = root.attrs if root is not None else {}
    lang = attrs.get("lang", "").strip()
    found = []
    if not lang:
        found.append(Finding(
            "html-lang", "The <html> element has no lang attribute.",
            'Add lang="{{ LANGUAGE_CODE }}" (or <mjml lang="…">) so screen readers '
            "pronounce the message in the right language.", Severity.WARNING, "<html>"))
    primary = (language or lang).replace("_", "-").split("-")[0].lower()
    written = lang.replace("_", "-").split("-")[0].lower()
    if lang and primary and written != primary:
        found.append(Finding(
            "html-lang", f"The <html> element's lang is {lang!r}, but the message is in "
            f"{language!r}.",
            'Write lang="{{ LANGUAGE_CODE }}" (or <mjml lang="{{ LANGUAGE_CODE }}">), not a '
            "fixed language: screen readers read the message in the language it names.",
            Severity.WARNING, "<html>"))
    direction = attrs.get("dir", "").strip().lower()
    if direction and direction not in ("ltr", "rtl", "auto"):
        found.append(Finding(
            "html-dir", f"The <html> element's dir is {direction!r}.",
            'Use dir="ltr", dir="rtl" or dir="auto".', Severity.WARNING, "<html>"))
    elif primary in RTL_LANGUAGES and direction != "rtl":
        found.append(Finding(
            "html-dir", f"The message is in {primary!r}, written right to left, but its "
            f"<html> element has {f'dir={direction!r}' if direction else 'no dir'}.",
            'Add dir="rtl" to <html> (<mjml dir="rtl">): without it clients lay the text '
            "out left to right.", Severity.WARNING, "<html>"))
    return found


def _file_names(src: str) -> set[str]:
    name = posixpath.basename(unquote(urlsplit(src).path)).lower()
    return {name, posixpath.splitext(name)[0]} - {""}


def image_findings(doc: Document) -> list[Finding]:
    found = []
    for img in doc.elements("img"):
        src = img.attrs.get("src", "")
        if "alt" not in img.attrs:
            found.append(Finding(
                "img-alt", f"Image without alt text: {src or '(no src)'}",
                'Add alt="…" describing it (alt="" for decorative images): many clients '
                "block images by default and show the alt text.", Severity.WARNING,
                img.describe()))
        elif (alt := img.attrs["alt"].strip().lower()) and alt in _file_names(src):
            found.append(Finding(
                "img-alt-filename", f"The image's alt text is its file name: {alt!r}.",
                "Describe what the image shows (or alt=\"\" if it is decorative): a file "
                "name read aloud tells nothing.", Severity.WARNING, img.describe()))
    return found


def _own_tags(table: Element) -> set[str]:
    """The tags inside ``table``, not counting those of tables nested in it."""
    tags, stack = set(), list(table.children)
    while stack:
        node = stack.pop()
        tags.add(node.tag)
        if node.tag != "table":
            stack.extend(node.children)
    return tags


def table_findings(doc: Document) -> list[Finding]:
    found = []
    for table in doc.elements("table"):
        if table.attrs.get("role", "").strip().lower() in ("presentation", "none"):
            continue
        if _own_tags(table) & {"th", "caption", "thead"}:
            continue  # a data table: its headers make it one
        found.append(Finding(
            "table-role", "A layout table isn't marked presentational.",
            'Add role="presentation" to tables used for layout (MJML does), so screen '
            "readers don't announce rows and columns; give data tables <th> headers.",
            Severity.WARNING, table.describe()))
    return found


def accessible_name(link: Element) -> str:
    """What a screen reader announces for ``link``: aria-label, else its text and alt texts."""
    label = link.attrs.get("aria-label", "").strip() or link.attrs.get("title", "").strip()
    if label:
        return label
    parts = [link.all_text()]
    parts += [img.attrs.get("alt", "") for img in link.iter() if img.tag == "img"]
    return " ".join(" ".join(parts).split())


def link_text_findings(doc: Document) -> list[Finding]:
    found = []
    for link in doc.elements("a"):
        if "href" not in link.attrs or document.is_hidden(link):
            continue
        name = accessible_name(link)
        plain = re.sub(r"[^\w\s]", "", name.lower()).strip()
        if not name:
            found.append(Finding(
                "link-empty", "A link has no text, alt text or aria-label.",
                'Give it text, an image with alt="…", or aria-label="…" saying where it goes.',
                Severity.WARNING, link.describe()))
        elif plain in VAGUE_LINK_TEXT:
            found.append(Finding(
                "link-text", f"Link text {name!r} doesn't say where the link goes.",
                'Say where it leads ("Track your order", "Read the care guide"): screen '
                "readers list links by their text alone.", Severity.WARNING, link.describe()))
        elif _URL_TEXT.match(name):
            found.append(Finding(
                "link-url-text", f"A bare URL is the link's text: {name[:80]!r}.",
                "A screen reader spells it out; prefer words saying where it goes (keep "
                "the URL as a fallback next to a button if you like).", Severity.INFO,
                link.describe()))
    return found


def text_contrast(node: Element) -> float | None:
    """The contrast of ``node``'s text with its background (None over an image)."""
    behind = document.background(node)
    if behind is None:
        return None
    return contrast(document.foreground(node, behind), behind)


def contrast_findings(doc: Document) -> list[Finding]:
    """Text below WCAG 2.x AA contrast, one finding per colour pair and size class."""
    seen: dict[tuple[str, str, bool], Finding] = {}
    for node in doc.elements():
        text = node.own_text()
        if not text or document.is_hidden(node):
            continue
        behind = document.background(node)
        if behind is None:
            continue  # text over an image: its colours aren't known
        color = document.foreground(node, behind)
        size = document.font_size(node)
        large = size >= 24 or (size >= 18.66 and document.is_bold(node))
        needed = LARGE_RATIO if large else NORMAL_RATIO
        ratio = contrast(color, behind)
        key = (hex_color(color), hex_color(behind), large)
        if ratio >= needed or key in seen:
            continue
        seen[key] = Finding(
            "contrast", f"Text {(node.all_text() or text)[:40]!r} is {key[0]} on {key[1]}: "
            f"contrast {ratio:.2f}:1, under the {needed:g}:1 WCAG AA asks for "
            f"{'large' if large else 'normal'} text ({size:g}px).",
            "Darken the text or lighten its background (or the reverse) until the ratio "
            f"is at least {needed:g}:1.", Severity.WARNING, node.describe())
    return list(seen.values())


def heading_findings(doc: Document) -> list[Finding]:
    headings = [node for node in doc.elements("h1", "h2", "h3", "h4", "h5", "h6")
                if not document.is_hidden(node)]
    found = []
    previous = 0
    for node in headings:
        level = int(node.tag[1])
        if previous and level > previous + 1:
            found.append(Finding(
                "heading-order", f"<{node.tag}> follows <h{previous}>: a level is skipped.",
                f"Use <h{previous + 1}> here (style it as you like): screen readers "
                "navigate by heading levels.", Severity.WARNING, node.describe()))
        previous = level
    h1s = [node for node in headings if node.tag == "h1"]
    if len(h1s) > 1:
        found.append(Finding(
            "heading-h1", f"The message has {len(h1s)} <h1> headings.",
            "Keep one <h1>, the message's title, and use <h2> for its sections.",
            Severity.INFO, h1s[1].describe()))
    elif headings and not h1s:
        found.append(Finding(
            "heading-h1", f"The message's headings start at <{headings[0].tag}>, with no <h1>.",
            "Make the message's title an <h1>.", Severity.INFO, headings[0].describe()))
    return found
