"""What the admin shows of a row: its stored message, why it has none, and what to do next.

Display only: the stored bytes are parsed, never changed. ``cid:`` images are
inlined as ``data:`` URIs so the sandboxed frame needs no other request.
"""

import base64
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from ..conf import txmail_settings
from .models import FINAL, Delivery, Status

_CID = re.compile(r"""cid:([^"'\s)>]+)""", re.IGNORECASE)
_ANCHOR = re.compile(r"<a\b", re.IGNORECASE)


@dataclass(frozen=True)
class StoredMessage:
    """The parts of a row's stored message that the admin shows."""

    html: str | None
    text: str | None
    headers: list[tuple[str, str]]
    attachments: list[tuple[str, str, int]] = field(default_factory=list)  # name, type, size
    size: int = 0


def _content(part: Any) -> str | None:
    if part is None:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else content.decode("utf-8", "replace")


def _payload(part: Any) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def read(raw: bytes) -> StoredMessage:
    """Parse ``raw`` (a row's frozen email) into its HTML, text, headers and attachments."""
    msg = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)  # policy.default always builds one
    html_part, text_part = msg.get_body(("html",)), msg.get_body(("plain",))
    images: dict[str, str] = {}
    attachments = []
    for part in msg.walk():
        if part.is_multipart() or part is html_part or part is text_part:
            continue
        payload = _payload(part)
        cid = str(part.get("Content-ID", "")).strip().strip("<>")
        if cid:
            images[cid] = (f"data:{part.get_content_type()};base64,"
                           f"{base64.b64encode(payload).decode()}")
        attachments.append((part.get_filename() or cid or "(unnamed)",
                            part.get_content_type(), len(payload)))
    html = _content(html_part)
    if html is not None:
        html = _CID.sub(lambda m: images.get(m.group(1), m.group(0)), html)
        # The frame may open popups but never navigate itself: links go to a new tab.
        html = _ANCHOR.sub('<a target="_blank" rel="noopener noreferrer"', html)
    return StoredMessage(html=html, text=_content(text_part),
                         headers=[(k, str(v)) for k, v in msg.items()],
                         attachments=attachments, size=len(raw))


def why_no_body(row: Delivery) -> str:
    """Say why ``row`` has no stored message (its settings now, and its status)."""
    if row.secret_body:
        return ("Secret body: not stored. The message held a secret such as a reset link "
                "(DeliveryOptions(secret_body=True)), so its bytes are dropped as soon as "
                "the delivery ends.")
    keep = txmail_settings.KEEP_BODIES
    if not row.queued and not keep:
        return ("Not stored: send() keeps a message's bytes only when TXMAIL['KEEP_BODIES'] "
                "is on.")
    if row.status in (Status.SENT, Status.SUPPRESSED) and not keep:
        return ("Body dropped after sending (TXMAIL['KEEP_BODIES'] is off: bodies can hold "
                "secrets such as reset links).")
    if row.status in FINAL:
        retention = txmail_settings.BODY_RETENTION
        after = _duration(retention) if retention is not None else "a while"
        return (f"Body dropped {after} after the delivery ended "
                "(TXMAIL['BODY_RETENTION']).")
    return "Not stored."


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds:g} s"


# What an operator can do about a row, by status.
_NEXT_STEP = {
    Status.QUEUED: "Waiting for a worker. Cancel it with the 'Cancel' action.",
    Status.SENDING: "A worker has it now.",
    Status.RETRYING: "Retried automatically at the next attempt; 'Retry now' sends it at once.",
    Status.FAILED: "Fix what the error names, then use 'Retry now' (or send a new message "
                   "if the body is gone).",
    Status.UNKNOWN: "The server may have accepted it: check the recipient's mailbox or the "
                    "provider's log before using 'Send again' (which may send it twice).",
    Status.SCHEDULED: "Waiting for its send time: 'Reschedule' moves it, 'Cancel' stops it.",
    Status.EXPIRED: "Its deadline passed before it was handed over, so it was not sent: "
                    "'Send again' sends a copy now, without the deadline.",
    Status.SUPPRESSED: "Every recipient is on the suppression list: remove them from it "
                       "to send to them again.",
}


def next_step(row: Delivery) -> str:
    """What to do about ``row`` now, or "" when nothing is left to do."""
    return _NEXT_STEP.get(Status(row.status), "") if row.status in Status.values else ""
