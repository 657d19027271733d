"""A built email frozen to bytes for the queue, and thawed back for any mailer.

The queue stores what was built at ``enqueue()`` time: the exact bytes (SMTP
policy, CRLF) plus the envelope. A retry sends the same bytes with the same
Message-ID; what the preview showed is what goes out. ``FrozenEmail`` hands those
bytes to byte-oriented backends unchanged (SMTP, the dev mailbox) and parses
subject, parts and attachments for backends that post fields to an API.
"""

import email.policy
import re
from email import message_from_bytes
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from typing import Any

from django.core.mail import EmailMultiAlternatives

from ..addresses import canonical
from . import dkim
from .wire import to_bytes

# Not passed on as extra headers. DKIM-Signature: an API provider builds a message of
# its own from the fields, which the signature of the stored bytes would fail.
_HEADER_FIELDS = {"subject", "from", "to", "cc", "bcc", "reply-to", "mime-version",
                  "content-type", "content-transfer-encoding", "dkim-signature"}


def freeze(email: Any) -> tuple[bytes, str, list[str]]:
    """Return ``(raw bytes, envelope sender, envelope recipients)`` for a built email."""
    raw = dkim.sign(to_bytes(email))  # once: retries resend it
    return raw, str(email.from_email), list(email.recipients())


class _RawMIME(EmailMessage):
    """A parsed message whose ``as_bytes()`` is the stored bytes, exactly.

    Unless a backend changed it: anymail's SES backend adds X-Tag and
    X-Metadata headers and re-encodes 8bit parts before sending. Then the
    changed message is generated again (same parts, its own folding).
    """

    txmail_raw: bytes = b""
    txmail_changed: bool = False

    def __setitem__(self, name: str, value: Any) -> None:
        self.txmail_changed = True
        super().__setitem__(name, value)

    def __delitem__(self, name: str) -> None:
        self.txmail_changed = True
        super().__delitem__(name)

    def add_header(self, *args: Any, **kwargs: Any) -> None:
        self.txmail_changed = True
        super().add_header(*args, **kwargs)

    def replace_header(self, *args: Any, **kwargs: Any) -> None:
        self.txmail_changed = True
        super().replace_header(*args, **kwargs)

    def set_payload(self, *args: Any, **kwargs: Any) -> None:
        self.txmail_changed = True
        super().set_payload(*args, **kwargs)

    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        # The parser builds every part with this class; only the root holds
        # the stored bytes (a part's own as_bytes() is generated).
        if not self.txmail_raw or any(
                getattr(part, "txmail_changed", False) for part in self.walk()):
            return super().as_bytes(unixfrom, policy)
        linesep = getattr(policy or self.policy, "linesep", "\r\n")
        if linesep == "\n":
            return self.txmail_raw.replace(b"\r\n", b"\n")
        return self.txmail_raw


def _parse(raw: bytes, policy: Any) -> _RawMIME:
    msg = message_from_bytes(raw, _class=_RawMIME, policy=policy)
    for part in msg.walk():
        part.txmail_changed = False  # parsing itself set headers and payloads
    msg.txmail_raw = raw
    return msg  # type: ignore[return-value]


# The Message-ID line of a stored head (CRLF, as frozen), folded lines included.
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*((?:[^\r\n]|\r\n[ \t])*)", re.I | re.M)


# What ``EmailMultiAlternatives.__init__`` sets from the parsed bytes: filled on
# first access (see ``FrozenEmail``).
_PARSED_FIELDS = frozenset({"subject", "body", "to", "cc", "bcc", "reply_to", "extra_headers",
                            "alternatives", "attachments", "_connection"})


class FrozenEmail(EmailMultiAlternatives):
    """An ``EmailMultiAlternatives`` rebuilt from stored bytes and envelope.

    ``from_email`` is the envelope sender, as on the email that was frozen
    (Django's SMTP backend sends from it). Subject, body, addresses, headers and
    attachments are parsed from the bytes on first access: the stdlib's header
    parsing costs more CPU than the SMTP send itself, and byte-oriented backends
    (SMTP, the dev mailbox) only need ``message()`` and ``recipients()``. In a
    worker's threads that CPU, under the GIL, capped a worker's throughput.
    """

    def __init__(self, raw: bytes, from_email: str, recipients: list[str]) -> None:
        self.raw = raw
        self.envelope_from = from_email
        self.envelope_recipients = list(recipients)
        self.from_email = from_email

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not set yet: the parsed fields, once.
        if name not in _PARSED_FIELDS or "_thawed" in self.__dict__ or "raw" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self._thaw()
        return getattr(self, name)

    def _thaw(self) -> None:
        self._thawed = True
        parsed = _parse(self.raw, email.policy.default)
        text = parsed.get_body(preferencelist=("plain",))
        html = parsed.get_body(preferencelist=("html",))
        body_parts = {id(text), id(html)}
        attachments = [
            (part.get_filename(), part.get_content(), part.get_content_type())
            for part in parsed.iter_attachments() if id(part) not in body_parts
        ]

        envelope = {canonical(r) for r in self.envelope_recipients}

        def addresses(name: str, *, sent_to: bool = False) -> list[str]:
            # Recipients only as the envelope names them: a row may send to some
            # of its header's (a retry of those refused for now, the
            # unsuppressed), and API backends send to to/cc, not the envelope.
            return [str(a) for a in getattr(parsed.get(name), "addresses", ())
                    if not sent_to or canonical(a.addr_spec) in envelope]

        headers = {k: str(v) for k, v in parsed.items() if k.lower() not in _HEADER_FIELDS}
        shown_from = str(parsed.get("From", self.envelope_from))
        if shown_from != self.envelope_from:  # a From header set apart from the sender
            headers["From"] = shown_from
        super().__init__(
            subject=str(parsed.get("Subject", "")),
            body=text.get_content() if text is not None else "",
            from_email=self.envelope_from,
            to=addresses("To", sent_to=True),
            cc=addresses("Cc", sent_to=True),
            reply_to=addresses("Reply-To"),
            headers=headers,
            alternatives=[(html.get_content(), "text/html")] if html is not None else [],
            attachments=attachments,
        )
        # Bcc isn't in the bytes: it's whoever the envelope has beyond To and Cc.
        shown = {canonical(a) for a in [*self.to, *self.cc]}
        self.bcc = [r for r in self.envelope_recipients if canonical(r) not in shown]

    @property
    def message_id(self) -> str:
        """The Message-ID header, read without parsing the rest of the email."""
        end = self.raw.find(b"\r\n\r\n")
        # A regular expression over the head: the header parser cost a worker
        # ~0.3 ms of CPU per message. Anything unexpected goes to the parser.
        found = _MESSAGE_ID.search(self.raw, 0, end) if end > 0 else None
        if found is not None and found.group(1).isascii():
            return found.group(1).replace(b"\r\n", b"").decode().strip()
        headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(self.raw)
        return str(headers.get("Message-ID", "")).strip()

    def recipients(self) -> list[str]:
        return list(self.envelope_recipients)

    def message(self, *, policy: Any = email.policy.default) -> Any:
        return _LazyMIME(self.raw, policy)


class _LazyMIME:
    """``FrozenEmail.message()``: the stored bytes, parsed only when more is asked.

    Django's SMTP backend only calls ``as_bytes()``; parsing the message for
    that cost ~1.7 ms of CPU per message in a worker, where the connection
    threads share one core (the GIL). Any other use parses once and delegates
    (anymail's SES backend adds headers, then ``as_bytes()`` generates anew).
    """

    def __init__(self, raw: bytes, policy: Any) -> None:
        self._raw, self._policy = raw, policy
        self._parsed: _RawMIME | None = None

    def _message(self) -> _RawMIME:
        if self._parsed is None:
            self._parsed = _parse(self._raw, self._policy)
        return self._parsed

    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        if self._parsed is not None:
            return self._parsed.as_bytes(unixfrom, policy)
        linesep = getattr(policy or self._policy, "linesep", "\r\n")
        return self._raw.replace(b"\r\n", b"\n") if linesep == "\n" else self._raw

    def __bytes__(self) -> bytes:
        return self.as_bytes()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._message(), name)

    def __getitem__(self, name: str) -> Any:
        return self._message()[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self._message()[name] = value

    def __delitem__(self, name: str) -> None:
        del self._message()[name]

    def __contains__(self, name: object) -> bool:
        return name in self._message()  # type: ignore[operator]

    def __iter__(self) -> Any:
        return iter(self._message())

    def __len__(self) -> int:
        return len(self._message())
