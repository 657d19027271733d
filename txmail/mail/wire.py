"""The common email written straight to its wire bytes, without the ``email`` package.

Nearly every message txmail sends has one shape: a text part and an HTML
alternative, no attachments, headers that each fit on a line. Building that
through ``EmailMessage.message()`` and the generator parses every header with
the header registry, rebuilds the tree twice (``make_alternative``) and walks
it again to write it: ~2 ms of CPU for a 45 KB message, more than sending it.
For that shape ``wire_bytes()`` writes the same bytes directly: the same
header order and folding, the same transfer-encoding choice and encoder, a
boundary from the generator's own ``_make_boundary``. For anything else, or a
header it can't be sure of, it returns None and ``freeze()`` takes the
stdlib's path. Tests compare the two byte for byte.
"""

import email.policy
import functools
import re
from datetime import UTC, datetime
from email.contentmanager import _encode_text  # type: ignore[attr-defined]
from email.generator import BytesGenerator
from email.headerregistry import AddressHeader, UniqueUnstructuredHeader, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime
from io import BytesIO
from typing import Any

from django.conf import settings
from django.utils.timezone import get_current_timezone

from ..addresses import PLAIN
from .headers import rewrite_address_headers
from .mime import (
    URL_LIST_HEADERS,
    TxEmailMessage,
    fast_policy,
    quoted_printable,
    uses_quoted_printable,
)


def email_policy() -> Any:
    return email.policy.SMTP


def line_breaks(text: str, nl: str) -> str:
    """``nl.join(NLCRE.split(text))``: every CRLF, lone CR and LF as ``nl``, in C."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if nl == "\n" else text.replace("\n", nl)


class _Generator(BytesGenerator):
    """The stdlib's generator, writing each encoded body in one piece.

    ``BytesGenerator`` writes a body line by line, two writes a line: ~2,000 calls
    for a 45 KB quoted-printable HTML part, most of the cost of turning a built
    message into bytes. Writing the lines at once writes the same bytes; their line
    breaks are made the policy's by ``str.replace()``, not a regular expression.
    """

    def _write_lines(self, lines: str) -> None:
        if lines:
            self.write(line_breaks(lines, self._NL))  # type: ignore[attr-defined]

    @classmethod
    def _make_boundary(cls, text: str | bytes | None = None) -> str:
        # The stdlib's boundary, checked against the parts' text by a substring
        # search in C instead of a multi-line regular expression over all of it
        # (~0.3 ms for a 45 KB message). Stricter: a boundary found anywhere in
        # the text, not only on a line of its own, is not used.
        boundary = str(super()._make_boundary())  # type: ignore[misc]
        if text is None:
            return boundary

        def found(candidate: str) -> bool:
            if isinstance(text, bytes):
                return ("--" + candidate).encode() in text
            return "--" + candidate in str(text)

        candidate, counter = boundary, 0
        while found(candidate):
            candidate = f"{boundary}.{counter}"
            counter += 1
        return candidate


def flatten(message: Any) -> bytes:
    """``message.as_bytes()``, the same bytes, written faster (``_Generator``)."""
    out = BytesIO()
    _Generator(out, mangle_from_=False, policy=message.policy).flatten(message)
    return out.getvalue()


_CRLF = "\r\n"
_WIDTH = 78  # the SMTP policy's max_line_length
# Printable ASCII: no control characters, nothing to encode.
_PRINTABLE = re.compile(r"[ -~]*")
# A bare address is written as it is given ("To: ann@example.com"); a Message-ID
# of the same characters too.
_MSG_ID = re.compile(f"<{PLAIN.pattern}>")
_UNSTRUCTURED = (UnstructuredHeader, UniqueUnstructuredHeader)
# Given in ``headers``, these change what message() writes (or make it refuse the
# email): the stdlib's path decides.
_OWN_HEADERS = {"date", "bcc", "subject", "mime-version", "content-type",
                "content-transfer-encoding"}


def _simple_text(value: str) -> bool:
    """Whether the email package writes ``value`` as it is: one line of plain words."""
    return (value != "" and _PRINTABLE.fullmatch(value) is not None and "=?" not in value
            and value == value.strip() and "  " not in value)


def _fits(name: str, value: str) -> bool:
    return len(name) + 2 + len(value) <= _WIDTH


@functools.lru_cache(maxsize=1024)
def _address_line(name: str, value: str) -> str:
    """The header line the stdlib path writes for address header ``name``."""
    # The stdlib's own steps for this one header (Django's IDNA encoding of
    # domains, txmail's folding), cached: a campaign's From is the same for all.
    msg = EmailMessage(policy=fast_policy(email.policy.SMTP))
    msg[name] = value
    TxEmailMessage()._idna_encode_address_header_domains(msg)  # type: ignore[attr-defined]
    rewrite_address_headers(msg)
    head = flatten(msg).decode("ascii")
    return head[:head.index(_CRLF + _CRLF) + 2]


def _header_line(name: str, value: Any) -> str | None:
    """``name: value`` as the stdlib path writes it, or None where unsure."""
    if not isinstance(value, str):
        return None
    registry: Any = email.policy.SMTP.header_factory
    kind = registry.registry.get(name.lower(), registry.default_class)
    if issubclass(kind, AddressHeader):
        if PLAIN.fullmatch(value) and _fits(name, value):
            return f"{name}: {value}{_CRLF}"
        if not value.isascii():
            return None
        return _address_line(name, value)
    if name.lower() == "message-id":
        return f"{name}: {value}{_CRLF}" if (_MSG_ID.fullmatch(value)
                                              and _fits(name, value)) else None
    if kind not in _UNSTRUCTURED or not _simple_text(value):
        return None
    if name.lower() in URL_LIST_HEADERS:
        # mime.URLListHeader: folded between the URLs, one per line.
        items = [item.strip() for item in value.split(",") if item.strip()]
        return f"{name}: " + ("," + _CRLF + " ").join(items) + _CRLF
    return f"{name}: {value}{_CRLF}" if _fits(name, value) else None


def _text_part(text: str, subtype: str) -> tuple[bytes, bytes]:
    """A text part's headers and body, encoded as ``mime.set_text_fast`` would."""
    lines = text.encode("utf-8").splitlines()
    if uses_quoted_printable(lines, email.policy.SMTP):
        cte = "quoted-printable"
        data = line_breaks(quoted_printable(lines), _CRLF).encode("ascii")
    elif max(map(len, lines), default=0) <= _WIDTH:
        # The stdlib's choice for lines that fit: 7bit, or 8bit (the SMTP policy's
        # cte_type) for UTF-8 text, written as it is.
        cte = "7bit" if text.isascii() else "8bit"
        data = b"\r\n".join(lines) + b"\r\n"
    else:
        # base64, or a short part's quoted-printable: the stdlib's own encoder.
        cte, text = _encode_text(text, "utf-8", None, email.policy.SMTP)
        data = line_breaks(text, _CRLF).encode("ascii")
    head = (f'Content-Type: text/{subtype}; charset="utf-8"{_CRLF}'
            f"Content-Transfer-Encoding: {cte}{_CRLF}")
    return head.encode("ascii"), data


def _date() -> str:
    # As Django's EmailMessage.message() dates a message.
    tz = get_current_timezone() if settings.EMAIL_USE_LOCALTIME else UTC
    return format_datetime(datetime.now(tz))


def wire_bytes(email: Any) -> bytes | None:
    """The bytes ``flatten(email.message(policy=SMTP))`` writes, or None for another shape."""
    if (type(email) is not TxEmailMessage or email.attachments or email.inline_images
            or email.content_subtype != "plain" or not isinstance(email.body, str)
            or not email.body or len(email.alternatives) != 1
            or (email.encoding or settings.DEFAULT_CHARSET) != "utf-8"):
        return None
    [(html, mimetype)] = email.alternatives
    if mimetype != "text/html" or not isinstance(html, str):
        return None
    extra = email.extra_headers
    names = [name.lower() for name in extra]
    if "message-id" not in names or _OWN_HEADERS.intersection(names):
        return None  # Django makes one, or the header is the caller's: the stdlib's path
    # In the order EmailMessage.message() sets them.
    fields: list[tuple[str, Any]] = [("Subject", str(email.subject)),
                                     ("From", str(extra.get("From", email.from_email)))]
    for name, values in (("To", email.to), ("Cc", email.cc), ("Reply-To", email.reply_to)):
        if name in extra:
            fields.append((name, extra[name]))
        elif values:
            fields.append((name, ", ".join(str(v) for v in values)))
    fields.append(("Date", None))
    fields += [(name, value) for name, value in extra.items()
               if name.lower() not in {"from", "to", "cc", "reply-to"}]
    lines = []
    for name, value in fields:
        line = f"Date: {_date()}{_CRLF}" if value is None else _header_line(name, value)
        if line is None:
            return None
        lines.append(line)
    # Encoded once the headers are known to be written here (the costly part).
    text_part, html_part = _text_part(email.body, "plain"), _text_part(html, "html")
    # The parts as the generator writes them; the HTML part is an EmailMessage of
    # its own in the stdlib's tree (add_alternative), so it carries MIME-Version.
    parts = [text_part[0] + b"\r\n" + text_part[1],
             html_part[0] + b"MIME-Version: 1.0\r\n\r\n" + html_part[1]]
    boundary = _Generator._make_boundary(b"\r\n".join(parts))
    head = (f"MIME-Version: 1.0{_CRLF}Content-Type: multipart/alternative;{_CRLF}"
            f' boundary="{boundary}"{_CRLF}' + "".join(lines) + _CRLF)
    separator = f"{_CRLF}--{boundary}{_CRLF}".encode("ascii")
    return (head.encode("ascii") + f"--{boundary}{_CRLF}".encode("ascii")
            + separator.join(parts) + f"{_CRLF}--{boundary}--{_CRLF}".encode("ascii"))


def to_bytes(email: Any) -> bytes:
    """A built email's bytes: written directly where it has the common shape."""
    return wire_bytes(email) or flatten(email.message(policy=email_policy()))
