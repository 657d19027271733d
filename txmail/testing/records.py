"""What a test's recorder keeps of each message (``SentRecord``) and how it matches one.

``SentRecord`` holds the message, what it rendered to and the built email;
``matcher()`` turns an assertion's fields (``to=``, ``subject=``, ...) into a
test of a record. The status names are the ones ``MailRecorder`` records.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any

SENT = "sent"
QUEUED = "queued"
FAILED = "failed"
CANCELLED = "cancelled"
SUPPRESSED = "suppressed"  # every recipient was on the suppression list: nothing went out
# A call with the same class and idempotency key sent or stored it: nothing went out.
DEDUPLICATED = "deduplicated"
THROTTLED = "throttled"  # queued, held back by its mailer's rate limit (TXMAIL["RATE_LIMITS"])
SCHEDULED = "scheduled"  # enqueue() with a send time still to come
EXPIRED = "expired"  # its deadline passed before it was handed over: never sent


def _bare(addresses: Any) -> list[str]:
    return [a.lower() for _n, a in getaddresses([str(x) for x in addresses])]


def _body_of(email: Any, mimetype: str) -> str:
    for content, kind in getattr(email, "alternatives", ()):
        if kind == mimetype:
            return str(content)
    return ""


@dataclass(eq=False)
class SentRecord:
    """One message that went through ``send()`` or ``enqueue()`` while recording.

    ``status`` is ``"sent"``, ``"queued"`` (``enqueue()``, not yet run),
    ``"scheduled"`` (waiting for ``send_at``), ``"failed"``, ``"cancelled"``,
    ``"suppressed"``, ``"expired"``, ``"deduplicated"`` (``result`` is then the
    first call's handle, ``reason`` the key) or ``"throttled"`` (queued, held
    back by its mailer's rate limit: ``reason`` says until when);
    ``subject``/``html``/``text`` and the recipients are what went out (after
    interceptors), ``rendered`` what the templates produced, ``context`` what
    they rendered with.
    """

    message: Any
    mailer: str | None
    status: str
    queued: bool
    email: Any = None
    rendered: Any = None
    result: Any = None  # the SentMessage (send()) or the Delivery row (enqueue())
    error: BaseException | None = None
    reason: str = ""  # why it was cancelled
    delivery: Any = None

    @property
    def message_class(self) -> type:
        return type(self.message)

    @property
    def send_at(self) -> Any:
        """When an ``enqueue()``'d message is (or was) to be sent; None: at once."""
        return getattr(self.delivery, "send_at", None)

    @property
    def context(self) -> Mapping[str, Any]:
        return getattr(self.rendered, "context", None) or {}

    @property
    def subject(self) -> str:
        return str(self.email.subject) if self.email is not None else ""

    @property
    def text(self) -> str:
        return str(self.email.body) if self.email is not None else ""

    @property
    def html(self) -> str:
        return _body_of(self.email, "text/html")

    def _addresses(self, field_name: str) -> list[str]:
        if self.email is not None:
            return list(getattr(self.email, field_name))
        # Cancelled by pre_send, before it was built: what its hooks say.
        return list(getattr(self.message, f"get_{field_name}")())

    @property
    def to(self) -> list[str]:
        return self._addresses("to")

    @property
    def cc(self) -> list[str]:
        return self._addresses("cc")

    @property
    def bcc(self) -> list[str]:
        return self._addresses("bcc")

    @property
    def from_email(self) -> str:
        if self.email is not None:
            return str(self.email.from_email)
        return str(self.message.get_from_email())

    def describe(self) -> str:
        """One line for failure messages: class, status, recipients, subject."""
        how = "enqueue()" if self.queued else "send()"
        line = f"{self.message_class.__name__} to {self.to!r}"
        if self.cc:
            line += f" cc {self.cc!r}"
        if self.bcc:
            line += f" bcc {self.bcc!r}"
        if self.subject:
            line += f", subject {self.subject!r}"
        line += f" [{self.status} by {how}"
        if self.send_at is not None:
            line += f" for {self.send_at.isoformat(sep=' ', timespec='seconds')}"
        if self.mailer:
            line += f" via {self.mailer!r}"
        if self.reason:
            line += f": {self.reason}"
        if self.error is not None:
            line += f": {type(self.error).__name__}: {self.error}"
        return line + "]"


def _matches_addresses(actual: list[str], wanted: Any) -> bool:
    if isinstance(wanted, str):  # one address: among the recipients
        return _bare([wanted])[0] in _bare(actual)
    return sorted(_bare(actual)) == sorted(_bare(wanted))  # a list: exactly these


_FIELDS = ("to", "cc", "bcc", "from_email", "subject", "mailer", "context", "where")


def matcher(fields: dict[str, Any]) -> Callable[[SentRecord], bool]:
    unknown = sorted(set(fields) - set(_FIELDS))
    if unknown:
        raise TypeError(
            f"Unknown field(s) {', '.join(map(repr, unknown))}; match on "
            f"{', '.join(map(repr, _FIELDS))} (where=lambda sent: ... for anything else)."
        )

    def match(record: SentRecord) -> bool:
        for name, wanted in fields.items():
            if name in ("to", "cc", "bcc"):
                if not _matches_addresses(getattr(record, name), wanted):
                    return False
            elif name == "from_email":
                if wanted != record.from_email and _bare([wanted]) != _bare([record.from_email]):
                    return False
            elif name == "context":
                context = record.context
                if any(k not in context or context[k] != v for k, v in wanted.items()):
                    return False
            elif name == "where":
                if not wanted(record):
                    return False
            elif getattr(record, name) != wanted:
                return False
        return True

    return match


def what(message_class: type | None, fields: dict[str, Any]) -> str:
    name = message_class.__name__ if message_class is not None else "message"
    parts = [f"{k}={v!r}" for k, v in fields.items() if k != "where"]
    if "where" in fields:
        parts.append("where=<function>")
    return f"{name}({', '.join(parts)})" if parts else name
