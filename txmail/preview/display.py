"""Turn a MIME message (previewed or stored) into what the message page shows.

Everything here is display-only: rewriting ``cid:`` to ``data:`` URIs, opening
links in a new tab and forcing dark styles never touch the message that is sent.
"""

import base64
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from typing import Any

from ..quality.clip import GMAIL_CLIP_BYTES
from . import dark

# The Source tab shows at most this much; the .eml download has everything.
SOURCE_DISPLAY_LIMIT = 512 * 1024
SUMMARY_HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date")

_CID = re.compile(r"""cid:([^"'\s)>]+)""", re.IGNORECASE)
_ANCHOR = re.compile(r"<a\b", re.IGNORECASE)


def parse(raw: bytes) -> EmailMessage:
    """Parse stored bytes the way the message page reads every message."""
    msg = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


@dataclass(frozen=True)
class Part:
    index: int
    filename: str
    content_type: str
    size: int
    inline: bool
    content_id: str | None


@dataclass
class Display:
    """The message page's view of one MIME message."""

    summary: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    subject: str
    html: str | None
    display_html: str | None
    dark_html: str | None  # the HTML with its own prefers-color-scheme: dark styles on
    forced_dark_html: str | None  # the HTML as clients that force dark mode change it
    has_dark_styles: bool  # whether it has prefers-color-scheme: dark styles
    text: str | None
    source: str
    source_truncated: bool
    size: int
    html_size: int
    parts: list[Part] = field(default_factory=list)
    missing_cids: list[str] = field(default_factory=list)

    @property
    def clipped(self) -> bool:
        return self.html_size > GMAIL_CLIP_BYTES

    @property
    def clip_percent(self) -> int:
        return min(100, round(100 * self.html_size / GMAIL_CLIP_BYTES))

    @property
    def attachments(self) -> list[Part]:
        return [p for p in self.parts if not p.inline]

    @property
    def inline_parts(self) -> list[Part]:
        return [p for p in self.parts if p.inline]


def _walk(part: Any) -> Iterator[Any]:
    """``part`` and its descendants, but not the insides of an attached email."""
    yield part
    if part.get_content_maintype() == "multipart" and part.is_multipart():
        for sub in part.iter_parts():
            yield from _walk(sub)


def leaf_parts(msg: EmailMessage) -> list[MIMEPart]:
    """Return every non-multipart part other than the text and HTML bodies.

    An attached email (message/rfc822) is one part: the file a reader saves.
    """
    bodies = {id(msg.get_body(("plain",))), id(msg.get_body(("html",)))}
    return [
        part for part in _walk(msg)
        if part.get_content_maintype() != "multipart" and id(part) not in bodies
    ]


def part_payload(part: MIMEPart) -> bytes:
    if part.get_content_maintype() == "message" and part.is_multipart():
        attached: Any = part.get_payload(0)  # the attached email itself
        return bytes(attached.as_bytes())
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def content_id(part: MIMEPart) -> str | None:
    value = part.get("Content-ID")
    return str(value).strip().strip("<>") if value else None


def describe_parts(msg: EmailMessage) -> list[Part]:
    found = []
    for index, part in enumerate(leaf_parts(msg)):
        cid = content_id(part)
        disposition = part.get_content_disposition()
        found.append(Part(
            index=index,
            filename=part.get_filename() or cid or f"part-{index}",
            content_type=part.get_content_type(),
            size=len(part_payload(part)),
            inline=disposition != "attachment" and cid is not None,
            content_id=cid,
        ))
    return found


def rewrite_cids(html: str, msg: EmailMessage) -> tuple[str, list[str]]:
    """Replace ``cid:`` references with ``data:`` URIs; return unknown cids too."""
    images = {}
    for part in leaf_parts(msg):
        cid = content_id(part)
        if cid:
            data = base64.b64encode(part_payload(part)).decode()
            images[cid] = f"data:{part.get_content_type()};base64,{data}"
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        cid = match.group(1)
        if cid in images:
            return images[cid]
        missing.append(cid)
        return match.group(0)

    return _CID.sub(replace, html), missing


def for_display(html: str, msg: EmailMessage) -> tuple[str, list[str]]:
    html, missing = rewrite_cids(html, msg)
    # The sandboxed frame may open popups but never navigate itself or the top
    # page: links go to a new tab. The first duplicate attribute wins in HTML.
    html = _ANCHOR.sub('<a target="_blank" rel="noopener noreferrer"', html)
    return html, missing


def _content(part: MIMEPart | None) -> str | None:
    if part is None:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else content.decode("utf-8", "replace")


def display(msg: EmailMessage, raw: bytes, *, bcc: list[str] | None = None) -> Display:
    """Describe ``msg`` (whose serialized form is ``raw``) for the message page.

    ``bcc`` is shown in the summary: Bcc is never a header of the sent message.
    """
    html = _content(msg.get_body(("html",)))
    text = _content(msg.get_body(("plain",)))
    display_html = dark_html = forced_dark_html = None
    missing: list[str] = []
    if html is not None:
        display_html, missing = for_display(html, msg)
        dark_html, forced_dark_html = dark.own(display_html), dark.forced(display_html)
    summary = [(name, str(msg.get(name, ""))) for name in SUMMARY_HEADERS
               if msg.get(name) is not None]
    if bcc:
        summary.insert(3, ("Bcc", ", ".join(bcc)))
    source = raw[:SOURCE_DISPLAY_LIMIT].decode("utf-8", "replace")
    return Display(
        summary=summary,
        headers=[(name, str(value)) for name, value in msg.items()],
        subject=str(msg.get("Subject", "")),
        html=html,
        display_html=display_html,
        dark_html=dark_html,
        forced_dark_html=forced_dark_html,
        has_dark_styles=html is not None and dark.has_own_dark_styles(html),
        text=text,
        source=source,
        source_truncated=len(raw) > SOURCE_DISPLAY_LIMIT,
        size=len(raw),
        html_size=len(html.encode("utf-8")) if html is not None else 0,
        parts=describe_parts(msg),
        missing_cids=missing,
    )


def part_download(msg: EmailMessage, index: int) -> tuple[str, str, bytes] | None:
    """Return (filename, content type, bytes) of leaf part ``index``, or None."""
    parts = leaf_parts(msg)
    if not 0 <= index < len(parts):
        return None
    described = describe_parts(msg)[index]
    return described.filename, described.content_type, part_payload(parts[index])


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    return f"{size / 1024:.1f} KB" if size < 1024 * 1024 else f"{size / 1048576:.1f} MB"

