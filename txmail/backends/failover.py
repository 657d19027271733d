"""Failover: a mailer that tries other ``MAILERS`` aliases in order.

    MAILERS = {
        "ses": {...}, "sendgrid": {...},
        "transactional": {
            "BACKEND": "txmail.backends.failover.EmailBackend",
            "OPTIONS": {"mailers": ["ses", "sendgrid"], "cooldown": 60},
        },
    }

A transport-level failure of one alias (connection refused or dropped, SMTP
4xx, an HTTP provider's outage or a rejected API key) moves the message to the
next alias, and marks the failed alias down for ``cooldown`` seconds in
Django's cache (OPTIONS ``cache``, an alias of ``CACHES``): every process that
shares the cache skips it until then, instead of each worker rediscovering the
outage. An error that belongs to the message (a refused recipient, an invalid
address, a body the provider rejects) is raised at once: another provider
would refuse it too, and the alias stays up (``errors.is_message_error``). A
connection lost after the whole message was handed over is raised too: the
server may have it, and sending it elsewhere could deliver it twice.

An alias whose settings are wrong (unknown, a BACKEND that doesn't import,
missing OPTIONS, a failover cycle) is skipped without being marked down, and
logged as an error: it says nothing about the provider. If no alias sent the
message, that configuration error is raised, and a queued message waits for
the fix without using up its attempts.

Each alias keeps its own rate limit (``TXMAIL["RATE_LIMITS"]``): one at its
limit, or held back after a "slow down" reply, is passed over for the next
without being marked down; when every one is, the message waits for the first
free slot (up to ``RATE_LIMIT_WAIT`` seconds), else ``RateLimited`` says when.

``email.txmail_sent_via`` names the alias that sent it; the delivery log's
``sent_via`` shows it. Round-robin (``roundrobin.py``) is this with a rotating
first alias.
"""

import contextvars
import logging
import time
from collections.abc import Sequence
from typing import Any

from django.core.cache import caches
from django.core.mail import InvalidMailer
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from ..conf import txmail_settings
from ..exceptions import (
    DeliveryError,
    DeliveryOutcomeUnknown,
    MailerConfigurationError,
    RateLimited,
    TransientDeliveryError,
)
from . import ratelimit
from .classify import describe, is_message_error
from .transport import Connection

_KEY = "txmail.mailer-down.{}"
logger = logging.getLogger("txmail.delivery")
# The failover aliases sending the current message, outermost first: a cycle
# ("a" tries "b", which tries "a") is a configuration error, not a recursion.
_sending: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "txmail_failover_sending", default=())


def mailers_problem(mailers: Any) -> str | None:
    """Say what is wrong with OPTIONS ``mailers`` and how to write it; None if nothing."""
    example = "e.g. {'mailers': ['ses', 'sendgrid']}"
    if isinstance(mailers, str):
        listed = [a.strip() for a in mailers.split(",") if a.strip()] or ["ses", "sendgrid"]
        return (f"OPTIONS 'mailers' must be a list of MAILERS aliases, not the string "
                f"{mailers!r}: write {{'mailers': {listed!r}}}.")
    if not isinstance(mailers, list | tuple) or not all(
            isinstance(a, str) and a for a in mailers):
        return f"OPTIONS 'mailers' must be a list of MAILERS aliases, {example}, not {mailers!r}."
    if not mailers:
        return f"OPTIONS 'mailers' is missing or empty: list the MAILERS aliases to try, {example}."
    return None


def self_reference(alias: str | None) -> str:
    return (f"OPTIONS 'mailers' names this mailer itself ({alias!r}), so it would fall "
            f"over to itself: remove {alias!r} from the list.")


def cooldown_problem(cooldown: Any) -> str | None:
    """Say what is wrong with OPTIONS ``cooldown`` and how to write it; None if nothing."""
    if isinstance(cooldown, int | float) and not isinstance(cooldown, bool) and cooldown >= 0:
        return None
    return ("OPTIONS 'cooldown' must be a number of seconds, 0 or more (0: try a failed "
            f"mailer again at once), not {cooldown!r}. Write e.g. {{'cooldown': 60}}.")


class EmailBackend(BaseEmailBackend):
    """Try each alias of ``mailers`` in order; skip those cooling down after a failure."""

    alias: str | None  # set by BaseEmailBackend (Django 6.1; not in django-stubs yet)

    def __init__(self, *, mailers: Sequence[str] = (), cooldown: float = 60,
                 cache: str = "default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The system check (txmail.E022-E026) says the same at startup; a worker
        # that didn't run it gets the same words when it builds the mailer.
        if problem := mailers_problem(mailers) or cooldown_problem(cooldown):
            raise InvalidMailer(problem, alias=self.alias)
        if self.alias in mailers:
            raise InvalidMailer(self_reference(self.alias), alias=self.alias)
        self.mailers = list(mailers)
        self.cooldown = float(cooldown)
        self.cache_alias = cache
        self.connections: dict[str, Connection] = {}

    # -- shared state --------------------------------------------------------

    def down_until(self, aliases: Sequence[str]) -> dict[str, float]:
        """Return ``{alias: time it is up again}`` for the aliases cooling down now."""
        keys = {_KEY.format(a): a for a in aliases}
        try:
            found = caches[self.cache_alias].get_many(list(keys))
        except Exception:  # a cache outage must not stop mail: try every alias
            logger.warning("txmail: mailer %r could not read cooldowns from cache %r",
                           self.alias, self.cache_alias, exc_info=True)
            return {}
        now = time.time()
        return {keys[k]: float(v) for k, v in found.items() if float(v) > now}

    def mark_down(self, alias: str) -> None:
        """Skip ``alias`` for ``cooldown`` seconds, in every process sharing the cache."""
        if self.cooldown <= 0:
            return
        try:
            caches[self.cache_alias].set(
                _KEY.format(alias), time.time() + self.cooldown, timeout=self.cooldown)
        except Exception:
            logger.warning("txmail: mailer %r could not store %r's cooldown in cache %r",
                           self.alias, alias, self.cache_alias, exc_info=True)

    # -- sending -------------------------------------------------------------

    def order(self, up: list[str]) -> list[str]:
        """Return the aliases to try for the next message, first choice first.

        ``up`` are the ``mailers`` not cooling down, in their configured order.
        """
        return up

    def open(self) -> bool:
        return False  # each alias connects when it's first used

    def close(self) -> None:
        connections, self.connections = self.connections, {}
        for connection in connections.values():
            connection.close()

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        sent = 0
        for email in email_messages:
            self.send_one(email)
            sent += 1
        return sent

    def send_one(self, email: Any) -> None:
        """Send ``email`` through the first alias that takes it, or raise."""
        outer = _sending.get()
        if self.alias in outer:
            chain = " -> ".join(repr(a) for a in (*outer[outer.index(self.alias):], self.alias))
            raise InvalidMailer(
                f"failover mailers form a cycle: {chain}. Remove one of them from the "
                "other's OPTIONS 'mailers'.", alias=self.alias)
        reset = _sending.set((*outer, str(self.alias)))
        try:
            self._send_one(email)
        finally:
            _sending.reset(reset)

    def _send_one(self, email: Any) -> None:
        # Each alias's own rate limit: one at its limit is passed over for the
        # next; when every one is, wait for the first free slot if it is soon.
        deadline = time.monotonic() + float(txmail_settings.RATE_LIMIT_WAIT)
        while True:
            try:
                return self._send_through_first(email)
            except RateLimited as exc:
                pause = (exc.until - timezone.now()).total_seconds()
                # Not while the queue hands a row over: it waits throttled.
                if exc.attempted or not ratelimit.may_wait() or (
                        time.monotonic() + pause > deadline):
                    raise
                time.sleep(max(pause, 0.0))

    def _send_through_first(self, email: Any) -> None:
        down = self.down_until(self.mailers)
        failures: list[str] = []
        misconfigured: list[MailerConfigurationError] = []
        limited: list[RateLimited] = []
        for alias in self.order([a for a in self.mailers if a not in down]):
            connection = self.connections.get(alias) or Connection(alias, wait=0)
            self.connections[alias] = connection
            try:
                result = connection.send(email)
            except DeliveryOutcomeUnknown:
                self.mark_down(alias)
                raise  # the server may have it: another alias could send it twice
            except MailerConfigurationError as exc:
                # The settings, not the provider: not marked down, said loudly.
                logger.error("txmail: mailer %r skipped %r: %s", self.alias, alias, exc)
                misconfigured.append(exc)
                continue
            except RateLimited as exc:
                limited.append(exc)  # its limit, shared by every sender: not marked down
                continue
            except DeliveryError as exc:
                cause = exc.__cause__ or exc
                if is_message_error(cause):
                    raise
                self.mark_down(alias)
                failures.append(f"{alias!r}: {describe(cause)}")
                continue
            email.txmail_sent_via = result.sent_via or alias
            return
        if limited and not misconfigured:
            soonest = min(limited, key=lambda e: e.until)
            raise RateLimited(
                f"mailer {self.alias!r}: every mailer it tries is held back: "
                + " ".join(str(e) for e in limited)
                + (f" Failed: {'; '.join(failures)}." if failures else ""),
                alias=self.alias, until=soonest.until,
                attempted=bool(failures) or any(e.attempted for e in limited))
        if misconfigured:
            first = misconfigured[0]
            raise MailerConfigurationError(
                f"mailer {self.alias!r}: no mailer could send the message, and "
                + "; ".join(str(e) for e in misconfigured)
                + (f" The others failed: {'; '.join(failures)}." if failures else ""),
                alias=first.alias) from first
        skipped = [f"{a!r} (down for {until - time.time():.0f} s more)"
                   for a, until in down.items()]
        raise TransientDeliveryError(
            f"mailer {self.alias!r}: no mailer could send the message. "
            + (f"Failed: {'; '.join(failures)}. " if failures else "")
            + (f"Skipped after an earlier failure: {', '.join(skipped)}. " if skipped else "")
            + "Queued messages are retried; check the providers, or shorten OPTIONS "
            "'cooldown' to try a failed mailer again sooner.",
            alias=self.alias,
        )
