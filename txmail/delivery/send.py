"""Send claimed rows: a worker's lanes, one row's hand-over, its outcome.

``send_claimed()`` sends every row claimed under a token over up to
``CONNECTIONS`` connections (lanes taking turns on one line, ``lanes``), and
``send_row()`` one row's stored bytes: the suppression list checked at the
hand-over, the claim kept fresh while the mailer has it, the outcome recorded
(``bookkeeping``), and a retry or a follow-up row handed to the task queue
through the ``hand_off`` the caller gives (``queue.hand_off``: this module sits
below the queue, which imports it).
"""

import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import connection as db_connection
from django.db import connections, router, transaction
from django.utils import timezone

from ..backends import ratelimit
from ..backends.transport import Connection
from ..conf import txmail_settings
from ..exceptions import (
    DeliveryError,
    DeliveryOutcomeUnknown,
    MailerConfigurationError,
    RateLimited,
    TransientDeliveryError,
)
from ..mail import esp, verp
from ..mail.frozen import FrozenEmail
from . import bookkeeping, deadline, heartbeat, listed, recovery, rows, shutdown
from .bookkeeping import mark_failed, mark_sent, mark_suppressed, mark_waiting, retrying
from .lanes import Line
from .models import Delivery, Status
from .outcomes import Outcomes

logger = logging.getLogger("txmail.delivery")

HandOff = Callable[..., None]  # queue.hand_off(row, run_after=None)
# A lane's connection unused this long is opened again before its next send.
IDLE_SECONDS = 30.0


def _claimed(token: str) -> list[Delivery]:
    claimed = list(Delivery.objects.filter(claim_token=token, status=Status.SENDING)
                   .select_related("body").order_by("-priority", "pk"))
    if txmail_settings.SUPPRESSION:
        listed.flag_batch(claimed)  # send_row() checks again if the list changed since
    return claimed


def send_claimed(token: str, *, hand_off: HandOff,
                 claim_more: Callable[[], str | None] | None = None,
                 low_water: int | None = None,
                 jump: Callable[[], str | None] | None = None,
                 jump_every: float = 0.5) -> dict[str, int]:
    """Send every row claimed with ``token``, over up to ``CONNECTIONS`` connections.

    The connections are lanes that each take the next row from one line; when
    fewer than ``low_water`` rows (default: the lanes) wait in it, a lane calls
    ``claim_more()`` (if given), which claims more rows under a new token and
    returns it (None when there are none), while the other lanes go on sending.
    ``jump()``, asked every ``jump_every`` seconds, claims the same way rows
    that go first: they join the front of the line.
    """
    first = retrying(_claimed, token)
    counts: dict[str, int] = defaultdict(int)
    if not first:
        return dict(counts)
    width = max(1, int(txmail_settings.CONNECTIONS))
    in_memory = db_connection.vendor == "sqlite" and db_connection.is_in_memory_db()  # type: ignore[attr-defined]
    if in_memory:
        # Threads would share one in-memory database through SQLite's shared
        # cache, which fails writers at once with "table is locked" (tests).
        width = 1

    def fetch() -> list[Delivery] | None:
        fresh = claim_more() if claim_more is not None else None
        return None if fresh is None else retrying(_claimed, fresh)

    def jumped() -> list[Delivery]:
        try:
            fresh = jump() if jump is not None else None
            return [] if fresh is None else retrying(_claimed, fresh)
        except Exception:  # the rows it claimed, if any, are the sweep's
            logger.exception("txmail: could not claim the messages that go first")
            return []

    # A stopping worker's lanes take no new row: what is left goes back below.
    line = Line(first, fetch if claim_more is not None else None,
                width if low_water is None else max(low_water, 1),
                stop=shutdown.stopping.is_set, jump=jumped if jump is not None else None,
                jump_every=jump_every)
    lock = threading.Lock()
    # The sent rows' outcomes, written a batch at a time by a thread of its own
    # (each at once where threads can't share the database: see in_memory).
    outcomes = Outcomes(batched=not in_memory)

    def lane() -> None:
        connections: dict[str, Connection] = {}  # one per mailer, kept open
        used: dict[str, float] = {}
        try:
            while (row := line.next()) is not None:
                connection = connections.get(row.mailer)
                if connection is None:
                    connection = connections[row.mailer] = Connection(row.mailer)
                elif time.monotonic() - used[row.mailer] > IDLE_SECONDS:
                    # Servers drop idle connections (a reset's, while the lane
                    # sends a campaign through another mailer): a fresh one,
                    # rather than a failed send and a retry later.
                    connection.close()
                used[row.mailer] = time.monotonic()
                try:
                    status = send_row(connection, row, row.claim_token, hand_off, outcomes)
                except Exception:
                    # One row's bookkeeping failing (the database) must not stop
                    # the lane: the sweep recovers that row from its claim.
                    logger.exception("txmail: delivery %s could not be recorded", row.pk)
                    bookkeeping.drop_connections()  # the next row must not use a dead one
                    status = "error"
                with lock:
                    counts[status] += 1
        finally:
            for connection in connections.values():
                connection.close()

    # Every connection, when more will be claimed: the line grows as it goes.
    lanes = width if claim_more is not None else min(width, len(line))
    with outcomes:
        if lanes == 1:
            lane()
        else:
            with ThreadPoolExecutor(max_workers=lanes) as pool:
                list(pool.map(lambda _n: _in_thread(lane), range(lanes)))
    if len(line):
        count, again = retrying(recovery.hand_back, line.take_all())
        counts["handed back"] = count
        for row in again:
            hand_off(row)
    return dict(counts)


def _in_thread(func: Any, *args: Any) -> None:
    try:
        func(*args)
    finally:
        connections.close_all()  # each thread has its own database connections


def send_row(connection: Connection, row: Delivery, token: str, hand_off: HandOff,
             outcomes: Outcomes | None = None) -> str:
    """Send one claimed row's stored bytes; return its status.

    A sent row's outcome joins ``outcomes`` (written with others) when given and
    nothing else is written with it.
    """
    # Its deadline and its class's last check, before the mailer is told.
    retry_at = timezone.now() + timedelta(seconds=backoff(row.attempts + 1))
    if (ended := retrying(deadline.before_hand_over, row, token, retry_at=retry_at,
                          hand_off=hand_off)) is not None:
        return ended
    # The alias's rate limit before the stamp: a worker killed while it waits
    # for a slot had not handed the message over, so the sweep requeues it.
    try:
        connection.take_slot()
    except RateLimited as exc:
        return _throttled(row, exc, token, hand_off, counted=False)
    # The wait may have passed its deadline.
    if (ended := retrying(deadline.expire_if_overdue, row, token)) is not None:
        return ended
    now = timezone.now()
    # The claim is renewed as the mailer gets the message (a row may wait in
    # the line a while), and the attempt counts now, not when it was claimed.
    if not retrying(rows.update, row.pk, {"claim_token": token, "status": Status.SENDING},
                    {"handed_over_at": now, "claimed_at": now}, increment=("attempts",)):
        return "lost"  # the sweep took the claim back (this worker was too slow)
    row.attempts += 1
    try:
        email = FrozenEmail(bytes(row.raw or b""), row.from_email, row.recipients)
        esp.apply(email, row.esp_options, row.pk)
        verp.apply(email, row.pk, row.recipients)
        # Checked at each hand-over, not at enqueue() or once per batch: a
        # bounce or an unsubscribe may have come in while the row waited.
        check = row.respect_suppression and txmail_settings.SUPPRESSION
        # A read, retried through a database outage like the bookkeeping: a
        # blip here must not fail a message nobody has tried to send yet.
        suppressed = retrying(listed.suppressed_now, row, email) if check else {}
        if suppressed and not email.recipients():
            mark_suppressed(row, suppressed, email=email, token=token)
            return Status.SUPPRESSED
        # A slow send is not a dead worker; a failover's aliases at their limits
        # don't sleep now that the row is marked handed over: it waits throttled.
        with heartbeat.with_mailer(row.pk, token), ratelimit.without_waiting():
            sent = replace(connection.send(email, slot_taken=True), suppressed=suppressed)
    except MailerConfigurationError as exc:
        return _wait_for_settings(row, exc, now, token, hand_off)
    except DeliveryOutcomeUnknown as exc:
        if not (row.resend_if_unknown and row.attempts < row.max_attempts):
            mark_failed(row, exc, email=None, status=Status.UNKNOWN, token=token)
            return Status.UNKNOWN
        # The same bytes again (resend_if_unknown).
        return _retry_later(row, exc, now, token, hand_off)
    except RateLimited as exc:  # the alias's rate limit, or a "slow down" reply
        return _throttled(row, exc, token, hand_off)
    except TransientDeliveryError as exc:
        if row.attempts < row.max_attempts:
            return _retry_later(row, exc, now, token, hand_off)
        mark_failed(row, exc, email=None, status=Status.FAILED, token=token,
                    note=f"gave up after {row.attempts} attempts")
        return Status.FAILED
    except DeliveryError as exc:
        mark_failed(row, exc, email=None, status=Status.FAILED, token=token)
        return Status.FAILED
    except Exception as exc:  # e.g. stored bytes that no longer parse: fail, don't loop
        mark_failed(row, exc, email=None, status=Status.FAILED, token=token)
        return Status.FAILED
    # In the sent mark's transaction: a worker killed between the two would
    # leave the refused recipients without a row. mark_sent() drops the body
    # (KEEP_BODIES); the follow-up row keeps it.
    later = any(400 <= code < 500 for code, _reply in sent.refused.values())
    if outcomes is not None and not later and not row.resend_if_unknown:
        outcomes.add(row, sent, token, None)
        return Status.SENT
    mark_sent(row, sent, token=token,
              then=partial(_retry_refused, row, sent, now, row.raw, hand_off) if later else None)
    return Status.SENT


def _retry_refused(row: Delivery, sent: Any, now: datetime, raw: Any,
                   hand_off: HandOff) -> None:
    """Queue the recipients the server refused for now (RCPT 4xx) as a row of their own.

    Called inside the transaction that marks ``row`` sent; the task is handed
    to the queue when it commits.

    The others have the message: this row is sent. The new row sends the same
    bytes to the refused recipients only, counting this row's attempts. It
    points at the first row of the message (``resent_from``), so a campaign
    counts and cancels it with its own.
    """
    later = [address for address, (code, _reply) in sent.refused.items() if 400 <= code < 500]
    if not later or row.attempts >= row.max_attempts:
        return  # out of attempts: the row's refused field and last_error say who
    retry_at = now + timedelta(seconds=backoff(row.attempts))
    first = row.resent_from if row.resent_from_id else row
    follow_up = row.copy(recipients=later, status=Status.RETRYING, attempts=row.attempts,
                         next_attempt_at=retry_at, raw=raw, resent_from=first,
                         expires_at=row.expires_at, send_check=row.send_check)
    follow_up.save()
    transaction.on_commit(partial(hand_off, follow_up, run_after=retry_at),
                          using=router.db_for_write(Delivery))


def _retry_later(row: Delivery, exc: Exception, now: datetime, token: str,
                 hand_off: HandOff) -> str:
    retry_at = now + timedelta(seconds=backoff(row.attempts))
    if row.expires_at is not None and retry_at >= row.expires_at:
        # Never sent late: no attempt after the deadline.
        mark_failed(row, exc, email=None, status=Status.EXPIRED, token=token,
                    note=f"Expired: the next attempt would come after its deadline "
                    f"({row.expires_at.isoformat(sep=' ', timespec='seconds')})")
        return Status.EXPIRED
    mark_failed(row, exc, email=None, status=Status.RETRYING, token=token,
                next_attempt_at=retry_at)
    hand_off(row, run_after=retry_at)
    return Status.RETRYING


def _throttled(row: Delivery, exc: RateLimited, token: str, hand_off: HandOff, *,
               counted: bool = True) -> str:
    """The row waits, ``throttled``, until its alias may send again (``exc.until``).

    Held back by txmail's own limit, nothing was sent: the attempt is given
    back (``counted``: it was counted at the hand-over). Told to slow down by
    the server, the attempt counts, as any transient failure's does.
    """
    if exc.attempted and row.attempts >= row.max_attempts:
        mark_failed(row, exc, email=None, status=Status.FAILED, token=token,
                    note=f"gave up after {row.attempts} attempts")
        return Status.FAILED
    if exc.attempted:
        mark_failed(row, exc, email=None, status=Status.THROTTLED, token=token,
                    next_attempt_at=exc.until)
    elif not mark_waiting(row, exc, next_attempt_at=exc.until, token=token,
                          status=Status.THROTTLED, note="Held back by its rate limit",
                          give_back=counted):
        return "lost"
    hand_off(row, run_after=exc.until)
    return Status.THROTTLED


def _wait_for_settings(row: Delivery, exc: Exception, now: datetime, token: str,
                       hand_off: HandOff) -> str:
    """A mailer's settings are wrong: the row waits for the fix, its attempt given back."""
    logger.error("txmail: delivery %s waits for a configuration fix: %s", row.pk, exc)
    retry_at = now + timedelta(seconds=backoff(1))
    if mark_waiting(row, exc, next_attempt_at=retry_at, token=token):
        hand_off(row, run_after=retry_at)
    return Status.RETRYING


def backoff(attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: exponential, ±50 % jitter, capped."""
    base = float(txmail_settings.RETRY_DELAY) * 2 ** min(max(attempt - 1, 0), 32)
    # The cap applies to the jittered delay: RETRY_MAX_DELAY is never exceeded.
    return min(float(txmail_settings.RETRY_MAX_DELAY), base * random.uniform(0.5, 1.5))
