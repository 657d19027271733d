"""Rate limits per mailer alias, shared by every worker process and machine.

    TXMAIL = {"RATE_LIMITS": {"ses": "14/s", "relay": {"rate": "300/h", "burst": 10}}}

Each limited alias has one ``MailerRate`` row in the database. ``acquire()``
takes the alias's next send slot with a compare-and-set UPDATE on it (the
generic cell rate algorithm: the row holds the time the next send is due, and
each send moves it one interval on), so processes on any number of machines
share one limit without locks or another service, on SQLite and PostgreSQL
alike. A sender whose slot is at most ``RATE_LIMIT_WAIT`` seconds away sleeps
until it; a later one gets ``RateLimited`` with the time to come back (a
queued row waits as ``throttled``, its attempt given back).

A "slow down" answer (SMTP 421 or 451 to the connection, MAIL or DATA; an
HTTP 429, with its ``Retry-After``; SES throttling) holds the alias back for
every sender (``back_off()``, the row's ``blocked_until``): ``slow_down``
seconds for SMTP (default 60), the ``Retry-After`` for HTTP, at most an hour.

``Connection.send()`` (``transport``) calls both, so every way out counts:
the queue's lanes, ``send()``, and each alias a failover mailer tries. An
alias without an entry costs nothing: no query. Times are the senders'
clocks: keep the machines' clocks in sync (NTP), as the claims already need.
"""

import contextvars
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.signals import setting_changed
from django.db import DatabaseError
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from ..conf import rate_limits, txmail_settings
from ..exceptions import DeliveryError, RateLimited, TransientDeliveryError
from ..kinds import RateLimit
from .classify import slow_down

if TYPE_CHECKING:
    from .models import MailerRate

logger = logging.getLogger("txmail.delivery")

MAX_BACK_OFF = 3600.0  # seconds: a Retry-After of a day is a provider's bug, not a plan
CAS_TRIES = 50  # senders racing for one slot: each loss means another one sent

# Per process: the last time each alias's senders were told to come back. The
# next one is told one interval later, so rows held back together come back
# one slot apart instead of all at once (and all but one held back again).
_deferred: dict[str, datetime] = {}
_lock = threading.Lock()
# False while the queue hands a row over (``without_waiting()``): once it is
# marked handed over, no sender sleeps for a slot (a worker killed meanwhile
# would leave it ``unknown``; its deadline could pass). It waits throttled.
_may_wait: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "txmail_rate_may_wait", default=True)


@contextmanager
def without_waiting() -> Iterator[None]:
    """Within it, a sender never sleeps for a slot: ``RateLimited`` says when instead."""
    reset = _may_wait.set(False)
    try:
        yield
    finally:
        _may_wait.reset(reset)


def may_wait() -> bool:
    """Whether a sender may sleep for a slot now (not within ``without_waiting()``)."""
    return _may_wait.get()


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting == "TXMAIL":
        with _lock:
            _deferred.clear()


def _interval(limit: RateLimit) -> timedelta:
    return timedelta(seconds=1 / limit.per_second) if limit.per_second else timedelta(0)


def _rates() -> Any:
    # Imported when first used: ``import txmail`` reaches this module (through
    # ``transport``) before the app registry is ready.
    from .models import MailerRate

    return MailerRate.objects


def _row(alias: str) -> "MailerRate":
    row = _rates().filter(pk=alias).first()
    if row is None:
        row, _created = _rates().get_or_create(
            alias=alias, defaults={"next_slot": timezone.now()})
    return row


def acquire(alias: str, wait: float | None = None) -> None:
    """Take a send slot of ``alias``, sleeping up to ``wait`` seconds for it.

    ``wait`` defaults to ``TXMAIL["RATE_LIMIT_WAIT"]``. Raise ``RateLimited``
    (nothing was sent) when the next slot is further away.
    """
    limit = rate_limits().get(alias)
    if limit is None:
        return
    try:
        _acquire(alias, limit, wait)
    except DatabaseError as exc:
        # Not sent, and not handed over: the message waits (a queued row is
        # recorded throttled once the database is back) rather than go unmetered.
        raise RateLimited(
            f"mailer {alias!r}: its rate limit could not be read from the database "
            f"({type(exc).__name__}: {exc}); nothing was sent. A queued message is tried "
            "again in 10 s.", alias=alias, until=timezone.now() + timedelta(seconds=10),
        ) from exc


def _acquire(alias: str, limit: RateLimit, wait: float | None) -> None:
    if not may_wait():
        wait = 0
    ahead = timedelta(seconds=float(txmail_settings.RATE_LIMIT_WAIT if wait is None else wait))
    interval = _interval(limit)
    tolerance = interval * (limit.burst - 1)
    for _try in range(CAS_TRIES):
        row = _row(alias)
        now = timezone.now()
        start = max(now, row.next_slot - tolerance) if limit.per_second else now
        blocked = row.blocked_until is not None and row.blocked_until > start
        if blocked:
            start = row.blocked_until  # type: ignore[assignment]
        if start > now + ahead:
            raise _limited(alias, limit, start, row if blocked else None)
        if limit.per_second:
            taken = _rates().filter(pk=alias, next_slot=row.next_slot).filter(
                Q(blocked_until__isnull=True) | Q(blocked_until__lte=start),
            ).update(next_slot=max(row.next_slot, start) + interval)
            if not taken:
                continue  # another sender took this slot first: read the next one
        pause = (start - timezone.now()).total_seconds()
        if pause > 0:
            time.sleep(pause)
        return
    raise _limited(alias, limit, timezone.now() + interval, None)


def wait_for_any(aliases: list[str], wait: float | None = None) -> None:
    """Sleep until the first of ``aliases`` has a free slot, if that is at most ``wait``
    seconds away (default ``RATE_LIMIT_WAIT``); take none (each alias takes its own as
    it sends: a failover mailer's, once the queue has stamped the hand-over).
    """
    limits = rate_limits()
    if not aliases or any(alias not in limits for alias in aliases):
        return  # one of them has no limit: free now
    try:
        rows = {row.alias: row for row in _rates().filter(pk__in=aliases)}
    except DatabaseError:
        return  # the send says so
    now = timezone.now()
    starts = []
    for alias in aliases:
        row, limit = rows.get(alias), limits[alias]
        if row is None:
            return  # never used: free now
        start = max(now, row.next_slot - _interval(limit) * (limit.burst - 1)
                    ) if limit.per_second else now
        if row.blocked_until is not None and row.blocked_until > start:
            start = row.blocked_until
        starts.append(start)
    pause = (min(starts) - now).total_seconds()
    if 0 < pause <= float(txmail_settings.RATE_LIMIT_WAIT if wait is None else wait):
        time.sleep(pause)


def _limited(alias: str, limit: RateLimit, start: datetime, blocked: "MailerRate | None"
             ) -> RateLimited:
    with _lock:
        last = _deferred.get(alias)
        until = start if last is None or last + _interval(limit) < start else (
            last + _interval(limit))
        _deferred[alias] = until
    if blocked is not None:
        why = (f"held back until {blocked.blocked_until:%H:%M:%S} UTC after a slow-down reply "
               f"({blocked.blocked_reason or 'no reason given'})")
    else:
        why = f"at its rate limit ({limit.text}: TXMAIL['RATE_LIMITS'][{alias!r}])"
    return RateLimited(
        f"mailer {alias!r} is {why}; nothing was sent. A queued message waits for its "
        f"turn ({until:%H:%M:%S.%f} UTC); from send(), enqueue() it instead.",
        alias=alias, until=until)


def back_off(alias: str, seconds: float, reason: str) -> datetime:
    """Hold ``alias`` back for every sender for ``seconds`` (at most ``MAX_BACK_OFF``)."""
    until = timezone.now() + timedelta(seconds=min(max(seconds, 0.0), MAX_BACK_OFF))
    _row(alias)
    # Never shortened: another sender may have been told to wait longer.
    _rates().filter(pk=alias).filter(
        Q(blocked_until__isnull=True) | Q(blocked_until__lt=until),
    ).update(blocked_until=until, blocked_reason=reason[:500])
    logger.warning("txmail: mailer %r was told to slow down (%s); every worker holds it back "
                   "until %s", alias, reason, until.isoformat())
    return until


def slowed(error: DeliveryError, cause: BaseException, alias: str) -> DeliveryError:
    """``error``, or a ``RateLimited`` once ``alias`` is backed off when ``cause`` says so.

    Only for aliases with a ``RATE_LIMITS`` entry (whose ``slow_down`` isn't 0):
    a server's 421 otherwise stays the transient failure it always was.
    """
    limit = rate_limits().get(alias)
    if limit is None or limit.slow_down <= 0 or isinstance(error, RateLimited):
        return error
    if not isinstance(error, TransientDeliveryError):
        return error
    asked, seconds = slow_down(cause)
    if not asked:
        return error
    try:
        until = back_off(alias, limit.slow_down if seconds is None else seconds,
                         str(error)[:300])
    except DatabaseError:
        logger.exception("txmail: could not hold mailer %r back after its slow-down reply",
                         alias)
        return error
    return RateLimited(f"{error} Every sender holds mailer {alias!r} back until "
                       f"{until:%H:%M:%S} UTC.", alias=alias, until=until, attempted=True,
                       host=error.host)


def state() -> list[dict[str, Any]]:
    """Each limited alias: its limit, when its next slot is, and any hold-back."""
    rows = {row.alias: row for row in _rates().filter(pk__in=list(rate_limits()))}
    now = timezone.now()
    found = []
    for alias, limit in rate_limits().items():
        row = rows.get(alias)
        blocked = row.blocked_until if row and row.blocked_until and (
            row.blocked_until > now) else None
        found.append({"alias": alias, "limit": limit.text or "(slow-down replies only)",
                      "burst": limit.burst, "next_slot": row.next_slot if row else None,
                      "blocked_until": blocked,
                      "blocked_reason": row.blocked_reason if blocked and row else ""})
    return found
