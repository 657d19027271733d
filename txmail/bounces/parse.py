"""Read a report that came back: a bounce, an abuse report, an auto-reply, or none of these.

Pure: bytes in, a ``Report`` out, nothing looked up. The shapes, in the order tried:

- RFC 3464 delivery status notifications: ``multipart/report;
  report-type=delivery-status``, one ``message/delivery-status`` part whose
  per-recipient fields say ``Final-Recipient``, ``Action``, ``Status`` and
  ``Diagnostic-Code`` (Postfix, Exim, Exchange, Gmail all send these);
- RFC 5965 abuse reports (ARF): ``multipart/report; report-type=feedback-report``
  with ``Feedback-Type`` and ``Original-Rcpt-To`` (which mailbox providers may redact);
- a bounce in words only, as Exim and older MTAs may send: from ``MAILER-DAEMON``
  or ``postmaster``, the failed addresses listed in the text with their SMTP replies;
- RFC 3834 auto-replies (``Auto-Submitted: auto-replied``, ``X-Autoreply``,
  ``Precedence: auto_reply``, "Automatic reply:" / "Out of Office" subjects):
  recognised so they are never counted as bounces.

An MTA's bounce is itself "auto-replied" (Postfix and Exim say so): the report
shapes are tried first.
"""

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from typing import Any

DSN = "dsn"
COMPLAINT = "complaint"
AUTO_REPLY = "auto-reply"
UNKNOWN = "unknown"

# Per recipient: what became of the message there.
HARD = "hard"  # failed, permanently (5.x.x)
SOFT = "soft"  # failed, for a reason that may pass (4.x.x): the relay gave up
DELAYED = "delayed"  # still being tried: not a bounce
DELIVERED = "delivered"  # delivered, relayed or expanded: a success notice


@dataclass(frozen=True)
class Recipient:
    """One recipient's fate, as the report gives it."""

    address: str
    outcome: str  # HARD, SOFT, DELAYED, DELIVERED, or COMPLAINT
    status: str = ""  # the RFC 3463 code, "5.1.1"
    diagnostic: str = ""  # the remote server's reply, "smtp; 550 5.1.1 User unknown"


@dataclass(frozen=True)
class Report:
    """What ``parse()`` found in a message."""

    kind: str  # DSN, COMPLAINT, AUTO_REPLY or UNKNOWN
    identity: str  # the report's own Message-ID, else a hash of its body: replays share it
    recipients: tuple[Recipient, ...] = ()
    # The returned message's Message-ID (its headers travel in the report), and the
    # ENVID of RFC 3461 if the sender gave one.
    original_message_id: str = ""
    original_envelope_id: str = ""
    feedback_type: str = ""  # ARF: "abuse", "fraud", ...
    reporter: str = ""  # Reporting-MTA, or the report's From
    date: datetime | None = None  # the report's Date
    notes: list[str] = field(default_factory=list)  # how it was read, for the log

    @property
    def summary(self) -> str:
        """The report in a few words: kind, then each recipient's outcome and status."""
        people = ", ".join(f"{r.address} {r.outcome} {r.status}".strip() for r in self.recipients)
        return f"{self.kind}: {people}" if people else self.kind


def parse(raw: bytes) -> Report:
    """Return what ``raw`` (a whole message, as received) reports."""
    message: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[assignment]
    return replace(_read(message, raw), date=_date(message.get("Date")))


def _date(value: Any) -> datetime | None:
    try:
        found = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return found if found.tzinfo is not None else None


def _read(message: EmailMessage, raw: bytes) -> Report:
    identity = _identity(message, raw)
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type", "")).lower()
        if report_type == "delivery-status" or _part(message, "message/delivery-status"):
            dsn = _dsn(message, identity)
            if dsn.recipients:
                return dsn
        if report_type == "feedback-report" or _part(message, "message/feedback-report"):
            return _arf(message, identity)
    # A person's auto-reply may have bounce words and a null sender (RFC 3834, 3.3
    # asks for one): only a mailer daemon's message is read as a bounce in words then.
    auto = _auto_reply(message)
    if (not auto or _from_daemon(message)) and (
            found := _text_bounce(message, identity)) is not None:
        return found
    if auto:
        return Report(AUTO_REPLY, identity, reporter=str(message.get("From", "")))
    return Report(UNKNOWN, identity, reporter=str(message.get("From", "")))


def _identity(message: Message, raw: bytes) -> str:
    message_id = str(message.get("Message-ID", "")).strip()
    if message_id:
        return message_id[:255]
    # No Message-ID: the body, which relays don't change (they add Received headers).
    body = raw.split(b"\r\n\r\n", 1)[-1] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[-1]
    return "sha256:" + hashlib.sha256(body.replace(b"\r\n", b"\n")).hexdigest()


def _part(message: Message, content_type: str) -> Message | None:
    return next((p for p in message.walk() if p.get_content_type() == content_type), None)


def _bare(value: Any) -> str:
    """``rfc822; Ann <ann@example.com>`` → ``ann@example.com``."""
    text = str(value or "").strip()
    if ";" in text:
        text = text.split(";", 1)[1]
    text = text.strip()
    if "<" in text and ">" in text:
        text = text[text.index("<") + 1:text.rindex(">")]
    return text.strip().strip("<>").strip().lower()


def _returned_headers(message: Message) -> Message | None:
    """The headers of the message the report is about (``message/rfc822`` or
    ``text/rfc822-headers``)."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            inner: Any = part.get_payload()
            if isinstance(inner, list) and inner:
                return inner[0]  # type: ignore[no-any-return]
        if kind in ("text/rfc822-headers", "message/global-headers"):
            text: Any = part.get_payload(decode=True) or b""
            return email.message_from_bytes(text, policy=email.policy.default)
    return None


def _original_message_id(message: Message) -> str:
    returned = _returned_headers(message)
    return str(returned.get("Message-ID", "")).strip() if returned is not None else ""


def _field_blocks(part: Message) -> list[Message]:
    """The header blocks of a ``message/delivery-status`` or ``message/feedback-report`` part."""
    payload: Any = part.get_payload()
    if isinstance(payload, list):
        return payload
    # Some MTAs send the part as text (base64, or a type the parser took as a leaf).
    text: Any = part.get_payload(decode=True) or str(payload).encode()
    blocks = re.split(rb"\r?\n[ \t]*\r?\n", text.strip())
    return [email.message_from_bytes(b + b"\n\n", policy=email.policy.default) for b in blocks]


_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_BASIC = re.compile(r"\b([245])\d\d\b")


def _outcome(action: str, status: str) -> str:
    if action in ("delivered", "relayed", "expanded"):
        return DELIVERED
    if action == "delayed":
        return DELAYED
    return SOFT if status.startswith("4") else HARD  # failed (or no action): the code decides


def _status_in(text: str) -> str:
    """An RFC 3463 code in ``text``, else one from its basic SMTP reply code."""
    if (found := _ENHANCED.search(text)) is not None:
        return found.group(0)
    if (basic := _BASIC.search(text)) is not None:
        return f"{basic.group(1)}.0.0"
    return ""


def _dsn(message: Message, identity: str) -> Report:
    part = _part(message, "message/delivery-status")
    blocks = _field_blocks(part) if part is not None else []
    per_message = blocks[0] if blocks else None
    recipients = []
    for block in blocks[1:]:
        # Original-Recipient is the address txmail sent to; Final-Recipient the one
        # that failed, which differs when the recipient's server forwarded it.
        address = _bare(block.get("Original-Recipient") or block.get("Final-Recipient"))
        if not address:
            continue
        action = str(block.get("Action", "")).strip().lower()
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        status = str(block.get("Status", "")).strip()
        if not _ENHANCED.fullmatch(status):
            status = _status_in(diagnostic) or ("5.0.0" if action == "failed" else "")
        recipients.append(Recipient(address, _outcome(action, status), status, diagnostic))
    envid = str(per_message.get("Original-Envelope-Id", "")).strip() if per_message else ""
    reporter = _bare(per_message.get("Reporting-MTA")) if per_message else ""
    return Report(DSN, identity, tuple(recipients), _original_message_id(message), envid,
                  reporter=reporter, notes=["RFC 3464 delivery-status"])


def _arf(message: Message, identity: str) -> Report:
    part = _part(message, "message/feedback-report")
    fields = _field_blocks(part)[0] if part is not None else None
    feedback = str(fields.get("Feedback-Type", "")).strip().lower() if fields else ""
    addresses = [_bare(v) for v in (fields.get_all("Original-Rcpt-To") or [])] if fields else []
    notes = ["RFC 5965 feedback-report"]
    if not addresses:
        # Mailbox providers redact it (and the returned message's To): the VERP
        # address still names the delivery (``apply``).
        notes.append("no recipient named (redacted)")
    recipients = tuple(Recipient(a, COMPLAINT, diagnostic=feedback) for a in addresses if a)
    return Report(COMPLAINT, identity, recipients, _original_message_id(message),
                  feedback_type=feedback or "abuse",
                  reporter=str(message.get("From", "")), notes=notes)


_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.I)
_BOUNCE_WORDS = re.compile(
    r"(could not be delivered|undeliverable|undelivered mail|delivery (status notification|"
    r"has failed|failed)|mail delivery failed|failure notice|returned mail|permanent error|"
    r"has not yet been delivered)",
    re.I)
_ADDRESS = re.compile(r"<?([A-Za-z0-9._%+'=-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})>?")


def _from_daemon(message: Message) -> bool:
    sender = getattr(message.get("From"), "addresses", ())
    return any(_DAEMONS.match(str(a.addr_spec)) for a in sender)


def _text_bounce(message: Message, identity: str) -> Report | None:
    """A bounce written as text only (Exim's classic form): each failed address on a line
    of its own, the server's reply on the lines under it."""
    # A bounce's envelope sender is empty (RFC 5321, 4.5.5): "Return-Path: <>".
    if not _from_daemon(message) and str(message.get("Return-Path", "")).strip() != "<>":
        return None
    text = _plain_text(message)
    if not _BOUNCE_WORDS.search(f"{message.get('Subject', '')}\n{text}"):
        return None
    delayed = re.search(r"\b(delayed|has not yet been delivered|still being tried)\b",
                        f"{message.get('Subject', '')}\n{text}", re.I)
    # The text before the returned message: its own headers list addresses too.
    text = re.split(r"^-+ *(this is a copy of the message|original message)", text,
                    maxsplit=1, flags=re.I | re.M)[0]
    recipients: list[Recipient] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        found = _ADDRESS.fullmatch(line.strip().rstrip(":"))
        if found is None or _DAEMONS.match(found.group(1)):
            continue
        # The reply: the indented lines that follow the address.
        reply = []
        for after in lines[index + 1:]:
            if not after.startswith((" ", "\t")) or _ADDRESS.fullmatch(after.strip()):
                break
            reply.append(after.strip())
        diagnostic = " ".join(reply)
        status = _status_in(diagnostic)
        if not status:
            status = "5.0.0" if re.search(r"permanent", text, re.I) else ""
        if not status:
            continue
        outcome = DELAYED if delayed else _outcome("failed", status)
        recipients.append(Recipient(found.group(1).lower(), outcome, status, diagnostic))
    if not recipients:
        return None
    return Report(DSN, identity, tuple(recipients), _original_message_id(message),
                  reporter=str(message.get("From", "")), notes=["bounce in words only"])


def _plain_text(message: Message) -> str:
    if isinstance(message, EmailMessage):
        body = message.get_body(preferencelist=("plain",))
        if body is not None:
            return str(body.get_content())
    payload = message.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


_AUTO_SUBJECT = re.compile(r"^\s*(automatic reply|auto(matic)?[- ]?re(ply|sponse)|auto:|"
                           r"out of (the )?office|vacation|away from|abwesenheit|"
                           r"r[ée]ponse automatique)", re.I)


def _auto_reply(message: Message) -> bool:
    """RFC 3834 and the headers auto-responders add instead."""
    auto_submitted = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return True
    if any(message.get(name) for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")):
        return True
    if str(message.get("Precedence", "")).strip().lower() == "auto_reply":
        return True
    if str(message.get("X-Auto-Response-Suppress", "")) and _AUTO_SUBJECT.match(
            str(message.get("Subject", ""))):
        return True  # Exchange's out-of-office
    return bool(_AUTO_SUBJECT.match(str(message.get("Subject", ""))))
