"""Frozen values that travel down the pipeline: ``DeliveryOptions``, ``Draft``, ``Rendered``.

``Message.resolve()`` reads the message's attributes and hooks once and
returns a ``Draft``; everything after it (rendering, building, the outbox,
the delivery layer) works from these values and never calls back into the
message. They hold no behaviour beyond checking themselves.
"""

import json
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from types import MappingProxyType
from typing import Any

from django.utils import timezone

from .exceptions import MessageConfigurationError
from .schedule import LocalTime, check_quiet_hours


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class DeliveryOptions:
    """How a message is delivered, as one value (``Message.delivery_options``).

    ``task_backend``, ``queue_name``, ``priority``
        Where ``enqueue()`` queues it: a ``settings.TASKS`` alias (None:
        ``TXMAIL["TASK_BACKEND"]``), its queue (None: the backend's default)
        and the task priority (-100..100; None: 0).
    ``respect_suppression``
        Skip recipients on the suppression list (hard bounces, complaints).
        False still sends to them: a password reset to a once-bounced address
        may work.
    ``topic``
        The list the message belongs to ("newsletter"): an address
        unsubscribed from it is skipped, as are addresses suppressed for
        everything. None for transactional mail (``BulkMessage`` needs one).
    ``critical``
        The address must get it whatever it opted out of (a password reset,
        a security alert): topic opt-outs and "unsubscribe from everything"
        are ignored; hard bounces, complaints and entries added by hand are not.
    ``resend_if_unknown``
        A worker killed while the server had the message leaves its outcome
        unknown. False: leave it ``unknown``, never mailed twice. True: the
        sweep sends the same bytes again, under the same Message-ID. None: the
        kind's default (False for a ``Message``, True for a ``BulkMessage``).
    ``secret_body``
        The body holds a secret (a password reset link, a login code): its
        stored bytes are dropped the moment its delivery ends (sent, failed,
        unknown, cancelled, suppressed), even with ``TXMAIL["KEEP_BODIES"]``,
        so no log row keeps a link that still works and nobody can send it again.
    ``tags``, ``metadata``, ``esp_extra``
        Provider features through django-anymail (ignored by SMTP mailers).
        None tags mean the registry name ("shop.Receipt"). JSON values.
    ``send_at``, ``delay``
        When ``enqueue()`` hands it over: an aware datetime, a
        ``txmail.local_time(9)`` (the next 9:00 on the recipient's clock), or a
        delay from now (one of the two). None: at once. ``send()`` sends now
        and refuses them.
    ``quiet_hours``
        ``(start, end)`` ``datetime.time`` values on the recipient's clock, e.g.
        ``(time(21), time(8))``: a queued message due inside them waits for
        their end. None: any hour.
    ``expires_at``, ``expires_after``
        A deadline (an aware datetime, or a time after enqueueing; one of the
        two): a queued message not handed over by then ends ``expired``, never
        sent late. None: no deadline.
    ``idempotency_key``, ``idempotency_window``
        A second ``send()`` / ``enqueue()`` of the same class with the same key
        within the window (a timedelta; default one day) returns the first
        one's delivery and sends nothing. None: no key. On the class it is a
        template filled in with the message's attributes (``"receipt/{order.pk}"``;
        ``Message.get_idempotency_key()``); given to ``send()`` / ``enqueue()``,
        it is used as it is.
    """

    task_backend: str | None = None
    queue_name: str | None = None
    priority: int | None = None
    respect_suppression: bool = True
    topic: str | None = None
    critical: bool = False
    resend_if_unknown: bool | None = None
    secret_body: bool = False
    tags: Sequence[str] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    esp_extra: Mapping[str, Any] | None = None
    send_at: datetime | LocalTime | None = None
    delay: timedelta | None = None
    expires_at: datetime | None = None
    expires_after: timedelta | None = None
    idempotency_key: str | None = None
    idempotency_window: timedelta = timedelta(days=1)
    quiet_hours: tuple[time, time] | None = None

    def __post_init__(self) -> None:
        # Checked when the class is defined, not when a worker meets it.
        for name in ("task_backend", "queue_name", "topic"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise MessageConfigurationError(
                    f"DeliveryOptions({name}={value!r}): {name} must be a non-empty string "
                    "or None.")
        if self.priority is not None and (
                not isinstance(self.priority, int) or isinstance(self.priority, bool)
                or not -100 <= self.priority <= 100):
            raise MessageConfigurationError(
                f"DeliveryOptions(priority={self.priority!r}): priority must be an integer "
                "from -100 to 100, or None.")
        for name in ("respect_suppression", "secret_body", "critical"):
            if not isinstance(getattr(self, name), bool):
                raise MessageConfigurationError(
                    f"DeliveryOptions({name}={getattr(self, name)!r}): {name} must be True "
                    "or False.")
        if self.resend_if_unknown is not None and not isinstance(self.resend_if_unknown, bool):
            raise MessageConfigurationError(
                f"DeliveryOptions(resend_if_unknown={self.resend_if_unknown!r}): "
                "resend_if_unknown must be True, False or None.")
        if self.tags is not None:
            if isinstance(self.tags, str):
                raise MessageConfigurationError(
                    f"DeliveryOptions(tags={self.tags!r}): tags must be a list of strings, "
                    f"e.g. tags=[{self.tags!r}].")
            tags = tuple(self.tags) if isinstance(self.tags, Iterable) else None
            if tags is None or not all(isinstance(t, str) for t in tags):
                raise MessageConfigurationError(
                    f"DeliveryOptions(tags={self.tags!r}): tags must be a list of strings.")
            object.__setattr__(self, "tags", tags)
        for name in ("metadata", "esp_extra"):
            value = getattr(self, name)
            if value is None and name == "esp_extra":
                continue
            if not isinstance(value, Mapping):
                raise MessageConfigurationError(
                    f"DeliveryOptions({name}={value!r}): {name} must be a dict of JSON values.")
            try:  # stored with a queued message (Delivery.esp_options): JSON only
                json.dumps(dict(value), allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise MessageConfigurationError(
                    f"DeliveryOptions({name}=...): {name} must hold JSON values only "
                    f"({exc}).") from None
            object.__setattr__(self, name, _frozen_mapping(value))
        self._check_times()
        if self.idempotency_key is not None and (
                not isinstance(self.idempotency_key, str) or not self.idempotency_key.strip()
                or len(self.idempotency_key) > 200):
            raise MessageConfigurationError(
                f"DeliveryOptions(idempotency_key={self.idempotency_key!r}): "
                "idempotency_key must be a non-empty string of at most 200 characters, "
                "or None.")

    def _check_times(self) -> None:
        for when, after in (("send_at", "delay"), ("expires_at", "expires_after")):
            moment, span = getattr(self, when), getattr(self, after)
            if when == "send_at" and isinstance(moment, LocalTime):
                pass  # resolved on the recipient's clock at enqueue()
            elif moment is not None and (not isinstance(moment, datetime)
                                       or timezone.is_naive(moment)):
                raise MessageConfigurationError(
                    f"DeliveryOptions({when}={moment!r}): {when} must be an aware datetime "
                    "(e.g. django.utils.timezone.now() + timedelta(hours=1)), or None.")
            if span is not None and (not isinstance(span, timedelta) or span < timedelta()):
                raise MessageConfigurationError(
                    f"DeliveryOptions({after}={span!r}): {after} must be a timedelta of "
                    "zero or more, or None.")
            if moment is not None and span is not None:
                raise MessageConfigurationError(
                    f"DeliveryOptions: give {when} or {after}, not both.")
        check_quiet_hours(self.quiet_hours)
        if self.quiet_hours is not None:
            object.__setattr__(self, "quiet_hours", tuple(self.quiet_hours))
        window = self.idempotency_window
        if not isinstance(window, timedelta) or window <= timedelta():
            raise MessageConfigurationError(
                f"DeliveryOptions(idempotency_window={window!r}): idempotency_window must "
                "be a positive timedelta.")

    def provider_options(self, default_tags: Sequence[str] = ()) -> dict[str, Any]:
        """anymail's ``tags``, ``metadata`` and ``esp_extra`` for the built email."""
        return {"tags": list(default_tags if self.tags is None else self.tags),
                "metadata": dict(self.metadata),
                "esp_extra": dict(self.esp_extra) if self.esp_extra else None}


class _Attributes(dict[str, Any]):
    """The message's attributes as a mapping, for ``str.format_map``."""

    def __init__(self, message: Any) -> None:
        super().__init__()
        self.message = message

    def __missing__(self, name: str) -> Any:
        return getattr(self.message, name)


def format_key(message: Any, template: str | None) -> str | None:
    """``template`` (``"receipt/{order.pk}"``) formatted with the message's attributes."""
    if template is None:
        return None
    try:
        return template.format_map(_Attributes(message))
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        owner = type(message).__name__
        raise MessageConfigurationError(
            f"{owner}: idempotency_key {template!r} can't be formatted ({type(exc).__name__}: "
            f"{exc}). Each {{name}} must be an attribute of the message: set it in "
            f"{owner}.__init__(), or override get_idempotency_key() to return the key.",
        ) from exc


def check_key_template(owner: str, template: str | None) -> None:
    """Refuse a malformed key template when the class is defined."""
    try:
        list(string.Formatter().parse(template or ""))
    except ValueError as exc:
        raise MessageConfigurationError(
            f"{owner}.delivery_options: idempotency_key {template!r} is not a valid "
            f"template ({exc}): name attributes in braces ('receipt/{{order.pk}}'), and "
            "write {{ and }} for a literal brace.") from None


@dataclass(frozen=True, slots=True)
class Draft:
    """One message, resolved: every value rendering, building and delivery need.

    Addresses are as the message gave them (``mail.build`` checks them);
    ``mailer`` is a configured ``MAILERS`` alias; ``context`` is what the
    templates render with; ``subject`` is the subject as HTML text (entities
    are unescaped when it is cleaned).
    """

    owner: str  # the class name, for error messages
    message_class: str  # the registry name, "shop.PasswordReset"
    mailer: str
    template_names: tuple[str, ...]
    context: dict[str, Any] = field(repr=False)
    subject: str
    from_email: str
    to: tuple[Any, ...]
    cc: tuple[Any, ...] = ()
    bcc: tuple[Any, ...] = ()
    reply_to: tuple[Any, ...] = ()
    headers: Mapping[str, Any] = field(default_factory=dict)
    attachments: tuple[Any, ...] = ()
    # The recipient's, activated for rendering and building; None keeps the active one.
    language: str | None = None
    time_zone: Any = None
    options: DeliveryOptions = field(default_factory=DeliveryOptions)
    # What ``Message.get_send_check()`` returned (JSON values; None: no last
    # check): the worker gives it to the class's ``still_wanted()``.
    send_check: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))

    @property
    def provider_options(self) -> dict[str, Any]:
        """anymail's tags, metadata and esp_extra; the tags default to the registry name."""
        return self.options.provider_options([self.message_class])

    @property
    def recipients(self) -> list[Any]:
        """To, Cc and Bcc, in that order."""
        return [*self.to, *self.cc, *self.bcc]


@dataclass(frozen=True)
class Rendered:
    """What a message renders to, before any MIME is built.

    ``subject``, ``html`` and ``text`` are the rendered parts; ``template`` is
    the body template's origin. ``fallback_reason`` is None when the compiled
    templates rendered it, else why the full per-message pipeline did.
    ``context`` is the context the templates saw (for receivers and tests).
    """

    subject: str
    html: str
    text: str
    template: str  # origin of the body template, for previews and errors
    language: str | None = None
    # None when rendered from the compiled templates; otherwise why this message
    # went through the per-message pipeline (template-wide reasons are the same
    # for every message of the template; the preview shows it).
    fallback_reason: str | None = None
    # The context the templates rendered with: kept (a reference, no copy) so
    # post_send receivers and the test helpers (txmail.testing) can read it.
    context: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
