"""The one place that talks to mailers: ``mailers[alias]`` is called here and nowhere else.

``Connection`` keeps one backend open and sends emails over it one at a time,
so each email gets its own outcome: the recipients the server refused, the
provider's message id, or a txmail error naming the alias and host. After an
error the backend is closed and the next send reconnects.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import getaddresses
from typing import Any

from django.conf import settings
from django.core.mail import mailers
from django.core.mail.backends.smtp import EmailBackend as DjangoSMTPBackend

from ..addresses import PLAIN
from ..exceptions import (
    DeliveryError,
    MailerConfigurationError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from . import ratelimit
from .classify import wrap
from .smtp import EmailBackend as TxSMTPBackend


@dataclass(frozen=True)
class SentMessage:
    """What a send returns: the email, the alias it went through, who accepted it.

    ``recipients`` are the envelope recipients the server accepted; ``refused``
    maps each refused address to the server's ``(code, reply)``. ``mailer`` is
    the alias asked for; ``sent_via`` the one that sent it (a failover or
    round-robin mailer's choice, else the same).
    """

    message_id: str
    mailer: str
    recipients: list[str]
    email: Any
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    provider_message_id: str | None = None
    delivery_id: int | None = None
    sent_via: str = ""
    # Recipients not sent to: on the suppression list ({address: reason}).
    suppressed: dict[str, str] = field(default_factory=dict)
    # Why it was not sent, when a pre_send receiver or an interceptor cancelled
    # it (txmail.signals); then ``recipients`` is empty.
    cancelled: str | None = None
    # The idempotency key, when a call with the same class and key within its
    # window had sent it: nothing was sent now, and ``delivery_id`` and
    # ``message_id`` are the first call's.
    deduplicated: str | None = None

    @property
    def status(self) -> str:
        """What happened: ``"sent"``, ``"cancelled"``, ``"suppressed"`` or
        ``"deduplicated"`` (nothing went out)."""
        if self.deduplicated is not None:
            return "deduplicated"
        if self.cancelled is not None:
            return "cancelled"
        if self.suppressed and not self.recipients:
            return "suppressed"
        return "sent"


SHAPE = "a dict such as {'BACKEND': '...', 'OPTIONS': {...}}, with OPTIONS a dict"


def shape_problem(config: Any) -> str | None:
    """Say how a ``MAILERS`` entry is not a dict with a dict of OPTIONS; None if it is.

    Types only, never values: OPTIONS hold passwords and API keys.
    """
    if isinstance(config, dict):
        options = config.get("OPTIONS", {})
        if isinstance(options, dict):
            return None
        return f"must be {SHAPE}, not a dict with OPTIONS a {type(options).__name__}"
    shown = type(config).__name__
    if isinstance(config, set | frozenset) and Ellipsis in config:
        # {...} copied from an example is a set holding Ellipsis.
        shown += " ({...} is a set holding Ellipsis: write the BACKEND and OPTIONS out)"
    return f"must be {SHAPE}, not {shown}"


def check_shape(alias: str) -> None:
    """Raise ``MailerConfigurationError`` naming ``alias`` if its entry is malformed.

    Django's handler would fail on it with an ``AttributeError`` that reads as
    the mailer refusing the message.
    """
    configured = getattr(settings, "MAILERS", {})
    if not isinstance(configured, dict) or alias not in configured:
        return  # Django's InvalidMailer says so, and txmail.E029 / E001
    problem = shape_problem(configured[alias])
    if problem:
        raise MailerConfigurationError(
            f"mailer {alias!r} is not configured correctly: settings.MAILERS[{alias!r}] "
            f"{problem}. Fix settings.MAILERS[{alias!r}] ('manage.py check' reports it as "
            "txmail.E029); nothing was sent, and queued messages wait for the fix.",
            alias=alias)


def open_mailer(alias: str) -> Any:
    """Return a new backend instance for ``alias``.

    Django's own SMTP backend is given txmail's subclass (same options, same
    class hierarchy), which reports refused recipients and a connection lost
    after the end of DATA (see ``txmail.backends.smtp``).
    """
    check_shape(alias)
    backend = mailers[alias]
    if type(backend) is DjangoSMTPBackend:
        backend.__class__ = TxSMTPBackend
    return backend


def _addr(address: str) -> str:
    if PLAIN.fullmatch(address):
        return address.lower()
    parsed = getaddresses([address])
    return (parsed[0][1] if parsed and parsed[0][1] else address).lower()


def message_id_of(email: Any) -> str:
    """The email's Message-ID; a ``FrozenEmail`` reads it without parsing the whole email."""
    message_id = getattr(email, "message_id", None)
    if isinstance(message_id, str):
        return message_id
    return str(email.extra_headers.get("Message-ID", ""))


def provider_message_id(email: Any) -> str | None:
    """The provider's id for a sent email (anymail's ``anymail_status``), if any."""
    status = getattr(email, "anymail_status", None)
    message_id = getattr(status, "message_id", None)
    return str(message_id) if message_id else None


class Connection:
    """One open backend for ``alias``; ``send()`` one email at a time. A context manager.

    Each send takes a slot of the alias's rate limit first, waiting up to
    ``wait`` seconds (default ``TXMAIL["RATE_LIMIT_WAIT"]``; ``ratelimit``),
    unless its caller took it (``take_slot()``: the queue, before it stamps
    the hand-over).
    """

    def __init__(self, alias: str, *, wait: float | None = None) -> None:
        self.alias = alias
        self.wait = wait
        self.backend: Any = None
        self._relays: list[str] | None = None  # a failover mailer's aliases

    def take_slot(self) -> None:
        """Take a slot of the alias's rate limit now, for a ``send(slot_taken=True)``.

        Wait up to ``wait`` seconds for it, else raise ``RateLimited``; for a
        failover mailer, also wait (as long) until one of its aliases has a
        slot: each takes its own as it sends, then without waiting.
        """
        ratelimit.acquire(self.alias, self.wait)
        if self._relays is None:
            try:
                relays = getattr(open_mailer(self.alias), "mailers", None)
            except Exception:  # its send() says what is wrong
                relays = None
            self._relays = list(relays) if isinstance(relays, list | tuple) else []
        if self._relays:
            ratelimit.wait_for_any(self._relays, self.wait)

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        backend, self.backend = self.backend, None
        if backend is not None:
            try:
                backend.close()
            except Exception:  # closing a broken connection must not hide the real error
                pass

    def send(self, email: Any, *, slot_taken: bool = False) -> SentMessage:
        """Send ``email``; return the outcome or raise a ``DeliveryError``."""
        backend = self.backend
        email.txmail_sent_via = ""  # set by a failover mailer to the alias it used
        if not slot_taken:
            ratelimit.acquire(self.alias, self.wait)
        try:
            if backend is None:
                backend = self.backend = open_mailer(self.alias)
                backend.open()
            count = backend.send_messages([email])
        except Exception as exc:
            self.close()  # the connection may be half-dead: reconnect next time
            # A "slow down" reply holds the alias back for every sender.
            raise ratelimit.slowed(wrap(exc, self.alias, backend), exc, self.alias) from exc
        if count == 0:  # fail_silently swallowed an error: nothing went out
            self.close()
            raise TransientDeliveryError(
                f"mailer {self.alias!r} sent nothing and reported no error (is it "
                "configured with fail_silently?). Remove fail_silently from its OPTIONS: "
                "txmail needs the error to retry or record it.", alias=self.alias)
        refused = dict(getattr(email, "refused_recipients", None) or {})
        refused_addrs = {_addr(a) for a in refused}
        accepted = [r for r in email.recipients() if _addr(r) not in refused_addrs]
        if refused and not accepted:
            raise PermanentDeliveryError(
                f"mailer {self.alias!r} refused every recipient: "
                + "; ".join(f"{a}: {c} {r}" for a, (c, r) in refused.items()),
                alias=self.alias, refused=refused,
            )
        return SentMessage(
            message_id=message_id_of(email),
            mailer=self.alias,
            recipients=accepted,
            email=email,
            refused=refused,
            provider_message_id=provider_message_id(email),
            # A failover mailer names the alias it used (backends/failover.py).
            sent_via=str(getattr(email, "txmail_sent_via", "") or self.alias),
        )


def deliver(email: Any, using: str) -> SentMessage:
    """Send one email through ``using`` now."""
    with Connection(using) as connection:
        return connection.send(email)


def deliver_many(emails: Iterable[Any], using: str
                 ) -> Iterator[tuple[Any, SentMessage | DeliveryError]]:
    """Send ``emails`` over one connection; yield ``(email, outcome or error)`` for each."""
    with Connection(using) as connection:
        for email in emails:
            try:
                yield email, connection.send(email)
            except DeliveryError as exc:
                yield email, exc
