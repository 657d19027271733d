"""Checks every client needs: image alt text, the language, absolute URLs, Gmail's clip.

Codes ``img-alt``, ``html-lang``, ``relative-url`` and ``gmail-clip``; the
accessibility and links checks may take some over under the same codes.
"""

import re
from collections.abc import Iterator
from html.parser import HTMLParser

from .clients import chosen
from .findings import Finding, Severity
from .variant import Variant

# Gmail clips messages whose HTML is larger than this and hides the rest
# behind "[Message clipped] View entire message".
GMAIL_CLIP_BYTES = 102 * 1024

# Links and images that a mail client can open without a base URL.
_ABSOLUTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#|\{|$)", re.IGNORECASE)


def short(value: str, limit: int = 80) -> str:
    value = value.strip() or "(empty)"
    return value if len(value) <= limit else value[: limit - 1] + "…"


class _Basics(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.findings: list[Finding] = []
        self.saw_html = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.saw_html = True
            if not (values.get("lang") or "").strip():
                self.findings.append(no_lang())
        elif tag == "img":
            src = values.get("src") or ""
            if "alt" not in values:
                self.findings.append(Finding(
                    "img-alt", f"Image without alt text: {short(src)}",
                    'Add alt="…" describing it (alt="" for decorative images): '
                    "many clients block images by default and show the alt text.",
                    Severity.WARNING, "<img>"))
            self._url("img", "src", src)
        elif tag == "a":
            self._url("a", "href", values.get("href") or "")

    def _url(self, tag: str, attribute: str, url: str) -> None:
        if url and not _ABSOLUTE.match(url.strip()):
            self.findings.append(Finding(
                "relative-url", f"Relative URL {short(url)} in <{tag} {attribute}>.",
                "Mail clients have no base URL: {% load txmail %} and write "
                "{% absurl 'name' %}, {% absstatic 'file' %} or {{ path|absolute }} "
                "(the base is TXMAIL['SITE_URL']).",
                Severity.ERROR, f"<{tag} {attribute}>"))


def no_lang() -> Finding:
    return Finding(
        "html-lang", "The <html> element has no lang attribute.",
        'Add lang="{{ LANGUAGE_CODE }}" (or <mjml lang="…">) so screen readers '
        "pronounce the message in the right language.", Severity.WARNING, "<html>")


def clip(html: str, clients: tuple[str, ...] = ()) -> Iterator[Finding]:
    size = len(html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        yield Finding(
            "gmail-clip", f"The HTML is {size / 1024:.0f} KB, over Gmail's 102 KB: Gmail "
            'clips it and readers see "[Message clipped]", losing what follows '
            "(often the unsubscribe link).",
            "Trim markup (repeated inline styles, comments) or move content to a web page.",
            Severity.WARNING, "html", clients or ("gmail",))


def check(variant: Variant) -> Iterator[Finding]:
    """The four basic findings for ``variant``'s HTML (none without HTML)."""
    if not variant.html:
        return
    parser = _Basics()
    parser.feed(variant.html)
    parser.close()
    if not parser.saw_html:
        parser.findings.append(no_lang())
    yield from parser.findings
    gmail = tuple(client.name for client in chosen(variant.clients)
                  if any(key.startswith("gmail.") for key in client.keys))
    yield from clip(variant.html, gmail)
