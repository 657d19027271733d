"""Queued delivery on ``django.tasks``: outbox rows, claims, retries.

``enqueue()`` writes a ``Delivery`` row holding the frozen email in the caller's
transaction and hands a task to the queue only when that transaction commits.
A rollback leaves nothing to send. If the process dies between the commit and
the hand-off, the row is still there and ``sweep()`` hands it off later: the row
is a transactional outbox (``recovery``).

A task claims its row with a conditional UPDATE (``status`` ready → sending,
with a fresh token), so a task that runs twice, or two workers racing, send it
once. While it's there, the task also claims other ready rows of its queue (up
to ``BATCH_SIZE`` at a time, more as it goes, for up to ``DRAIN_SECONDS``) and
sends them over ``CONNECTIONS`` concurrent connections.
Before handing a message to the mailer the worker stamps ``handed_over_at``; a
claim that goes stale (its worker was killed) is requeued by ``recovery.sweep()``
if it wasn't handed over yet, and ends ``unknown`` if it was: the server may have it.
"""

import logging
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import connection as db_connection
from django.db import connections, router, transaction
from django.db.models import F
from django.tasks import task, task_backends
from django.tasks.exceptions import InvalidTask, InvalidTaskBackend
from django.utils import timezone

from ..backends.transport import Connection
from ..conf import txmail_settings, validate_settings
from ..draft import DeliveryOptions
from ..exceptions import (
    DeliveryError,
    DeliveryNotFound,
    DeliveryOutcomeUnknown,
    MailerConfigurationError,
    MessageConfigurationError,
    TransientDeliveryError,
)
from ..mail import esp
from ..mail.frozen import FrozenEmail, freeze
from . import bookkeeping, heartbeat, listed, shutdown
from .bookkeeping import mark_failed, mark_sent, mark_suppressed, mark_waiting, retrying
from .lanes import Line
from .models import READY, Delivery, Status

logger = logging.getLogger("txmail.delivery")
DEFAULT_OPTIONS = DeliveryOptions()


def enqueue(email: Any, *, alias: str, message_class: str = "",
            options: DeliveryOptions = DEFAULT_OPTIONS) -> Delivery:
    """Store ``email`` as a queued delivery; hand it to the task queue on commit."""
    row = new_row(email, alias=alias, message_class=message_class, options=options)
    # Build the task now: a bad backend alias, queue or priority raises here,
    # in the caller, instead of leaving the row stuck in the queue.
    task_for(row.task_backend, row.queue_name, row.priority, owner=message_class)
    row.save(force_insert=True)
    transaction.on_commit(partial(hand_off, row), using=router.db_for_write(Delivery))
    return row


def new_row(email: Any, *, alias: str, message_class: str,
            options: DeliveryOptions = DEFAULT_OPTIONS) -> Delivery:
    """Return an unsaved queued ``Delivery`` holding ``email`` frozen (bulk sends save many)."""
    raw, envelope_from, recipients = freeze(email)
    return Delivery(
        message_class=message_class,
        mailer=alias,
        from_email=envelope_from,
        recipients=recipients,
        subject=str(email.subject),
        message_id=str(email.extra_headers.get("Message-ID", "")),
        status=Status.QUEUED,
        queued=True,
        max_attempts=txmail_settings.MAX_ATTEMPTS,
        next_attempt_at=timezone.now(),
        task_backend=options.task_backend or txmail_settings.TASK_BACKEND,
        queue_name=options.queue_name or "",
        priority=options.priority or 0,
        raw=raw,
        respect_suppression=options.respect_suppression,
        topic=options.topic or "",
        resend_if_unknown=bool(options.resend_if_unknown),
        secret_body=options.secret_body,
        esp_options=esp.options_of(email),
    )


def task_for(backend: str, queue_name: str, priority: int, *, owner: str = "",
             run_after: datetime | None = None) -> Any:
    """Return ``deliver_queued`` configured for a backend, queue and priority."""
    options: dict[str, Any] = {"backend": backend}
    if queue_name:
        options["queue_name"] = queue_name
    if priority:
        options["priority"] = priority
    if run_after is not None:
        options["run_after"] = run_after
    try:
        return deliver_queued.using(**options)
    except (InvalidTask, InvalidTaskBackend) as exc:
        who = f"{owner}: " if owner else ""
        raise MessageConfigurationError(
            f"{who}can't queue through task backend {backend!r} (queue {queue_name!r}, "
            f"priority {priority}): {str(exc).rstrip('.')}. Fix settings.TASKS or the "
            "class's task_backend, task_queue_name and task_priority."
        ) from exc


def hand_off(row: Delivery, run_after: datetime | None = None) -> None:
    """Give the queue a task for ``row``; if that can't be done the sweep does it later."""
    backend = row.task_backend or txmail_settings.TASK_BACKEND
    try:
        if run_after is not None and not task_backends[backend].supports_defer:
            # The backend can't wait: the sweep hands it off once it is due.
            Delivery.objects.filter(pk=row.pk).update(needs_handoff=True)
            return
        task_for(backend, row.queue_name, row.priority, run_after=run_after).enqueue(row.pk)
    except Exception:
        logger.exception(
            "txmail: could not hand delivery %s to task backend %r; it stays queued "
            "and the sweep (`manage.py txmail sweep`) hands it off again.", row.pk, backend,
        )
        Delivery.objects.filter(pk=row.pk).update(needs_handoff=True)


@task()
def deliver_queued(delivery_id: int) -> dict[str, int]:
    """The task: send delivery ``delivery_id`` and other ready ones of its queue."""
    return run(delivery_id)


# How long one task keeps claiming more ready rows of its queue. It keeps its
# connections open and its lanes busy meanwhile; the bound lets other tasks of
# the worker's queues run. A worker told to stop claims no more at once
# (``shutdown``) and hands back what no mailer had.
DRAIN_SECONDS = 60.0
CLOCK_MARGIN = timedelta(seconds=5)


def run(delivery_id: int) -> dict[str, int]:
    validate_settings()  # before claiming anything: a bad value read later strands rows
    tokens: list[str] = []  # every claim this task makes
    try:
        return _run(delivery_id, tokens)
    except BaseException:
        _release(tokens)
        raise


def _release(tokens: list[str]) -> None:
    """Hand back to the queue the rows claimed under ``tokens`` and never given to a mailer.

    A task that raised would otherwise leave them claimed until the sweep
    finds them stale, a claim timeout later. Rows the mailer had stay claimed:
    the sweep decides about those (``unknown``, or sent again).
    """
    try:
        Delivery.objects.filter(
            claim_token__in=tokens, status=Status.SENDING, handed_over_at__isnull=True,
        ).update(status=Status.RETRYING, claim_token="", next_attempt_at=timezone.now())
    except Exception:  # the error being raised says more; the sweep recovers them
        logger.exception("txmail: could not hand back the rows of claims %s", tokens)


def _run(delivery_id: int, tokens: list[str]) -> dict[str, int]:
    outages = bookkeeping.outages()
    token = uuid.uuid4().hex
    tokens.append(token)
    now = timezone.now()
    row = retrying(Delivery.objects.filter(pk=delivery_id).only(
        "status", "task_backend", "queue_name").first)
    if row is None:
        raise DeliveryNotFound(
            f"Delivery {delivery_id} does not exist: it was deleted before its task "
            "ran, so nothing was sent. Send the message again if it is still wanted."
        )
    # Its own row with a margin: the enqueuing host's clock may run a little
    # ahead of this one's, and a deferred retry may fire a moment early.
    retrying(_claim, Delivery.objects.filter(pk=delivery_id), token, now,
             due=now + CLOCK_MARGIN)
    # Drain: other ready rows of the same task backend and queue, so one task
    # fills the worker's connections (their own tasks then find nothing to do).
    limit = max(txmail_settings.BATCH_SIZE - 1, 0)
    ids = [] if shutdown.stopping.is_set() else retrying(
        _ready_ids, row, now, limit, exclude=delivery_id)
    if ids:
        retrying(_claim, Delivery.objects.filter(pk__in=ids), token, now)
    deadline = time.monotonic() + DRAIN_SECONDS

    def claim_more() -> str | None:
        # Claimed while the lanes still have work, so they never wait for a
        # batch to finish (a slow send held up the whole batch) or reconnect.
        if time.monotonic() > deadline or shutdown.stopping.is_set():
            return None
        more, when = uuid.uuid4().hex, timezone.now()
        tokens.append(more)
        ids = _ready_ids(row, when, max(txmail_settings.BATCH_SIZE, 1))
        if ids and _claim(Delivery.objects.filter(pk__in=ids), more, when):
            return more
        return None

    counts = send_claimed(token, claim_more=partial(retrying, claim_more) if limit else None)
    if bookkeeping.outages() != outages:
        bookkeeping.drop_connections()  # the worker's own, dead since the outage
    if not shutdown.stopping.is_set():
        from .recovery import maybe_sweep  # recovery hands rows off through this module

        maybe_sweep()
    return counts


def _ready_ids(row: Delivery, now: datetime, limit: int, exclude: int | None = None
               ) -> list[int]:
    """Up to ``limit`` ready rows of ``row``'s task backend and queue, next first."""
    if limit <= 0:
        return []
    ready = Delivery.objects.filter(
        status__in=READY, next_attempt_at__lte=now,
        task_backend=row.task_backend, queue_name=row.queue_name,
    ).order_by("-priority", "next_attempt_at", "pk")
    if exclude is not None:
        ready = ready.exclude(pk=exclude)
    return list(ready.values_list("pk", flat=True)[:limit])


def _claim(rows: Any, token: str, now: datetime, due: datetime | None = None) -> int:
    """Claim the ``rows`` ready by ``due`` (default: now) for ``token``; a conditional
    UPDATE, safe under races."""
    return rows.filter(status__in=READY, next_attempt_at__lte=due or now).update(
        status=Status.SENDING, claim_token=token, claimed_at=now, handed_over_at=None,
    )


def _claimed(token: str) -> list[Delivery]:
    rows = list(Delivery.objects.filter(claim_token=token, status=Status.SENDING)
                .order_by("-priority", "pk"))
    if txmail_settings.SUPPRESSION:
        listed.flag_batch(rows)  # send_row() checks again if the list changed since
    return rows


def send_claimed(token: str, claim_more: Callable[[], str | None] | None = None,
                 low_water: int | None = None) -> dict[str, int]:
    """Send every row claimed with ``token``, over up to ``CONNECTIONS`` connections.

    The connections are lanes that each take the next row from one line; when
    fewer than ``low_water`` rows (default: the lanes) wait in it, a lane calls
    ``claim_more()`` (if given), which claims more rows under a new token and
    returns it (None when there are none), while the other lanes go on sending.
    """
    first = retrying(_claimed, token)
    counts: dict[str, int] = defaultdict(int)
    if not first:
        return dict(counts)
    width = max(1, int(txmail_settings.CONNECTIONS))
    if db_connection.vendor == "sqlite" and db_connection.is_in_memory_db():  # type: ignore[attr-defined]
        # Threads would share one in-memory database through SQLite's shared
        # cache, which fails writers at once with "table is locked" (tests).
        width = 1

    def fetch() -> list[Delivery] | None:
        fresh = claim_more() if claim_more is not None else None
        return None if fresh is None else retrying(_claimed, fresh)

    # A stopping worker's lanes take no new row: what is left goes back below.
    line = Line(first, fetch if claim_more is not None else None,
                width if low_water is None else max(low_water, 1),
                stop=shutdown.stopping.is_set)
    lock = threading.Lock()

    def lane() -> None:
        connections: dict[str, Connection] = {}  # one per mailer, kept open
        try:
            while (row := line.next()) is not None:
                connection = connections.get(row.mailer)
                if connection is None:
                    connection = connections[row.mailer] = Connection(row.mailer)
                try:
                    status = send_row(connection, row, row.claim_token)
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
    if lanes == 1:
        lane()
    else:
        with ThreadPoolExecutor(max_workers=lanes) as pool:
            list(pool.map(lambda _n: _in_thread(lane), range(lanes)))
    if len(line):
        from .recovery import hand_back  # recovery hands rows off through this module

        counts["handed back"] = retrying(hand_back, line.take_all())
    return dict(counts)


def _in_thread(func: Any, *args: Any) -> None:
    try:
        func(*args)
    finally:
        connections.close_all()  # each thread has its own database connections


def send_row(connection: Connection, row: Delivery, token: str) -> str:
    """Send one claimed row's stored bytes; return its status."""
    now = timezone.now()
    mine = Delivery.objects.filter(pk=row.pk, claim_token=token, status=Status.SENDING)
    # The claim is renewed as the mailer gets the message (a row may wait in
    # the line a while), and the attempt counts now, not when it was claimed.
    if not retrying(mine.update, handed_over_at=now, claimed_at=now,
                    attempts=F("attempts") + 1):
        return "lost"  # the sweep took the claim back (this worker was too slow)
    row.attempts += 1
    try:
        email = FrozenEmail(bytes(row.raw or b""), row.from_email, row.recipients)
        esp.apply(email, row.esp_options, row.pk)
        # Checked at each hand-over, not at enqueue() or once per batch: a
        # bounce or an unsubscribe may have come in while the row waited.
        check = row.respect_suppression and txmail_settings.SUPPRESSION
        suppressed = listed.suppressed_now(row, email) if check else {}
        if suppressed and not email.recipients():
            mark_suppressed(row, suppressed, email=email, token=token)
            return Status.SUPPRESSED
        with heartbeat.with_mailer(row.pk, token):  # a slow send is not a dead worker
            sent = replace(connection.send(email), suppressed=suppressed)
    except MailerConfigurationError as exc:
        return _wait_for_settings(row, exc, now, token)
    except DeliveryOutcomeUnknown as exc:
        if not (row.resend_if_unknown and row.attempts < row.max_attempts):
            mark_failed(row, exc, email=None, status=Status.UNKNOWN, token=token)
            return Status.UNKNOWN
        return _retry_later(row, exc, now, token)  # the same bytes (resend_if_unknown)
    except TransientDeliveryError as exc:
        if row.attempts < row.max_attempts:
            return _retry_later(row, exc, now, token)
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
    mark_sent(row, sent, token=token, then=partial(_retry_refused, row, sent, now, row.raw))
    return Status.SENT


def _retry_refused(row: Delivery, sent: Any, now: datetime, raw: Any) -> None:
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
                         next_attempt_at=retry_at, raw=raw, resent_from=first)
    follow_up.save()
    transaction.on_commit(partial(hand_off, follow_up, run_after=retry_at),
                          using=router.db_for_write(Delivery))


def _retry_later(row: Delivery, exc: Exception, now: datetime, token: str) -> str:
    retry_at = now + timedelta(seconds=backoff(row.attempts))
    mark_failed(row, exc, email=None, status=Status.RETRYING, token=token,
                next_attempt_at=retry_at)
    hand_off(row, run_after=retry_at)
    return Status.RETRYING


def _wait_for_settings(row: Delivery, exc: Exception, now: datetime, token: str) -> str:
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
