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
sends them over ``CONNECTIONS`` concurrent connections (``send``). Every
``JUMP_SECONDS`` it also claims ready rows of any queue of its task backend
that go before what it sends (``jumper()``: a higher priority; a campaign's
chunk also lets through every message not of a campaign), and sends them next.
Before handing a message to the mailer the worker stamps ``handed_over_at``; a
claim that goes stale (its worker was killed) is requeued by ``sweep()``
(``recovery``) if it wasn't handed over yet, and ends ``unknown`` if it was: the
server may have it. This module owns the hand-off to the task backend; the
modules below it return the rows to hand off, or are given ``hand_off``.
"""

import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import router, transaction
from django.db.models import Q
from django.tasks import task, task_backends
from django.utils import timezone

from .. import tasking
from ..conf import txmail_settings, validate_settings
from ..draft import DeliveryOptions
from ..exceptions import DeliveryNotFound
from ..mail import esp
from ..mail.frozen import freeze
from . import (
    bookkeeping,
    deadline,
    handoff,
    idempotency,
    migrated,
    recovery,
    retention,
    rows,
    send,
    shutdown,
)
from .bookkeeping import retrying
from .models import READY, Delivery, Status

logger = logging.getLogger("txmail.delivery")
DEFAULT_OPTIONS = DeliveryOptions()


def enqueue(email: Any, *, alias: str, message_class: str = "",
            options: DeliveryOptions = DEFAULT_OPTIONS, time_zone: Any = None,
            send_check: Any = None) -> Delivery:
    """Store ``email`` as a queued delivery; hand it to the task queue on commit.

    A send time (``options.send_at`` / ``delay`` / ``quiet_hours``, local times
    on ``time_zone``'s clock) makes it ``scheduled`` until then (``deadline``).
    """
    row = new_row(email, alias=alias, message_class=message_class, options=options,
                  time_zone=time_zone, send_check=send_check)
    # Build the task now: a bad backend alias, queue or priority raises here,
    # in the caller, instead of leaving the row stuck in the queue.
    task_for(row.task_backend, row.queue_name, row.priority, owner=message_class)
    row.save(force_insert=True)
    later = row.next_attempt_at if row.status == Status.SCHEDULED else None
    transaction.on_commit(partial(hand_off, row, run_after=later),
                          using=router.db_for_write(Delivery))
    return row


def new_row(email: Any, *, alias: str, message_class: str,
            options: DeliveryOptions = DEFAULT_OPTIONS, time_zone: Any = None,
            send_check: Any = None) -> Delivery:
    """Return an unsaved queued ``Delivery`` holding ``email`` frozen (bulk sends save many)."""
    raw, envelope_from, recipients = freeze(email)
    timing = deadline.row_fields(options, time_zone=time_zone, send_check=send_check,
                                 owner=message_class)
    row = Delivery(
        message_class=message_class,
        mailer=alias,
        from_email=envelope_from,
        recipients=recipients,
        subject=str(email.subject),
        message_id=str(email.extra_headers.get("Message-ID", "")),
        status=timing.pop("status", Status.QUEUED),
        queued=True,
        max_attempts=txmail_settings.MAX_ATTEMPTS,
        next_attempt_at=timing.pop("next_attempt_at", timezone.now()),
        task_backend=options.task_backend or txmail_settings.TASK_BACKEND,
        queue_name=options.queue_name or "",
        priority=options.priority or 0,
        respect_suppression=options.respect_suppression,
        topic=options.topic or "",
        critical=options.critical,
        resend_if_unknown=bool(options.resend_if_unknown),
        secret_body=options.secret_body,
        esp_options=esp.options_of(email),
        **timing,  # send_at, expires_at, send_check
    )
    row.raw = raw
    return row


def task_for(backend: str, queue_name: str, priority: int, *, owner: str = "",
             run_after: datetime | None = None, ready: bool = False) -> Any:
    """Return ``deliver_queued`` (``deliver_ready`` if ``ready``) configured for a
    backend, queue and priority."""
    return tasking.configured(deliver_ready if ready else deliver_queued, backend,
                              queue_name, priority, owner=owner, run_after=run_after)


def hand_off(row: Delivery, run_after: datetime | None = None) -> None:
    """Give the queue a task for ``row``; if that can't be done the sweep does it later.

    A row due now shares its queue's waiting task (``handoff.summon()``); one due
    later gets a task of its own, deferred to its time.
    """
    backend = row.task_backend or txmail_settings.TASK_BACKEND
    try:
        if run_after is None:
            # The row's own task_backend: a row sent at once and sent again later
            # keeps "" (the setting's backend), and the drain selects rows by it.
            key = (row.task_backend, row.queue_name, row.priority)
            handoff.summon(key, lambda: task_for(
                backend, row.queue_name, row.priority, ready=True).enqueue(*key))
            return
        if not task_backends[backend].supports_defer:
            # The backend can't wait: the sweep hands it off once it is due.
            Delivery.objects.filter(pk=row.pk).update(needs_handoff=True)
            return
        task_for(backend, row.queue_name, row.priority, run_after=run_after).enqueue(row.pk)
    except Exception as exc:
        if (unmigrated := migrated.explain(exc, migrated.task_apps())) is not None:
            # One line with the fix: a traceback would only bury it.
            logger.error(
                "txmail: could not hand delivery %s to task backend %r: %s It stays "
                "queued and the sweep (`manage.py txmail sweep`) hands it off again.",
                row.pk, backend, unmigrated)
        else:
            logger.exception(
                "txmail: could not hand delivery %s to task backend %r; it stays queued "
                "and the sweep (`manage.py txmail sweep`) hands it off again.", row.pk,
                backend)
        Delivery.objects.filter(pk=row.pk).update(needs_handoff=True)


@task()
def deliver_queued(delivery_id: int) -> dict[str, int]:
    """The task for one row (a retry, a send time): send delivery ``delivery_id`` and
    other ready ones of its queue."""
    return run(delivery_id)


@task()
def deliver_ready(task_backend: str, queue_name: str, priority: int) -> dict[str, int]:
    """A queue's task (``handoff``): send the ready rows of the queue."""
    return drain((task_backend, queue_name, priority))


# How long one task keeps claiming more ready rows of its queue. It keeps its
# connections open and its lanes busy meanwhile; the bound lets other tasks of
# the worker's queues run. A worker told to stop claims no more at once
# (``shutdown``) and hands back what no mailer had.
DRAIN_SECONDS = 60.0
# How often a task's lanes look for messages that go before the ones they send
# (``jumper()``): about the longest a password reset waits behind a campaign.
JUMP_SECONDS = 0.5
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
    token = uuid.uuid4().hex
    tokens.append(token)
    now = timezone.now()
    if retrying(rows.status_of, delivery_id) not in (*READY, None):
        # Sent (or being sent) by another task's batch, or ended: nothing for this
        # task. Every ready row has its queue's task coming (or the sweep's), so
        # draining from here would only build the same queries again.
        maybe_sweep()
        return {}
    row = retrying(Delivery.objects.filter(pk=delivery_id).only(
        "status", "task_backend", "queue_name", "priority", "next_attempt_at").first)
    if row is None:
        raise DeliveryNotFound(
            f"Delivery {delivery_id} does not exist: it was deleted before its task "
            "ran, so nothing was sent. Send the message again if it is still wanted."
        )
    # Its own row with a margin: the enqueuing host's clock may run a little
    # ahead of this one's, and a deferred retry may fire a moment early. A
    # scheduled row never goes before its time: its task waits for it.
    if row.status not in READY:  # taken between the two reads
        maybe_sweep()
        return {}
    now = deadline.wait_until_due(row, now, CLOCK_MARGIN)
    retrying(_claim, Delivery.objects.filter(deadline.claimable(now), pk=delivery_id), token,
             now, due=now + CLOCK_MARGIN)
    # Drain: other ready rows of the same task backend and queue, so one task
    # fills the worker's connections (their own tasks then find nothing to do).
    floor = [row.priority]  # the lowest priority claimed: rows above it jump the line
    return _drain(row.task_backend, row.queue_name, token, tokens, floor, exclude=delivery_id)


def drain(key: handoff.Key) -> dict[str, int]:
    """Send the ready rows of queue ``key`` (its ``deliver_ready`` task)."""
    handoff.started(key)  # first: a row summoned after this gets a task of its own
    validate_settings()
    tokens: list[str] = []
    try:
        return _drain(key[0], key[1], uuid.uuid4().hex, tokens, [key[2]], summoned=key)
    except BaseException:
        _release(tokens)
        raise


def _drain(backend: str, queue_name: str, token: str, tokens: list[str], floor: list[int],
           exclude: int | None = None, summoned: handoff.Key | None = None
           ) -> dict[str, int]:
    """Claim ready rows of a queue under ``token`` (a batch, more as the lanes free up)
    and send them; ``floor[0]`` is the lowest priority claimed."""
    if token not in tokens:
        tokens.append(token)
    outages = bookkeeping.outages()
    now = timezone.now()
    batch = max(txmail_settings.BATCH_SIZE, 1)
    limit = batch - 1 if exclude is not None else batch  # a row's task has its own
    ids = [] if shutdown.stopping.is_set() else retrying(
        _ready_ids, backend, queue_name, now, limit, exclude=exclude, floor=floor)
    if ids:
        retrying(_claim, Delivery.objects.filter(pk__in=ids), token, now)
    elif summoned is not None:
        maybe_sweep()
        return {}
    if summoned is not None and len(ids) == limit:
        # More than a batch waits: a task for another worker, so the workers share it.
        _summon_again(summoned)
    drain_until = time.monotonic() + DRAIN_SECONDS

    def claim_more() -> str | None:
        # Claimed while the lanes still have work, so they never wait for a
        # batch to finish (a slow send held up the whole batch) or reconnect.
        if time.monotonic() > drain_until or shutdown.stopping.is_set():
            return None
        more, when = uuid.uuid4().hex, timezone.now()
        tokens.append(more)
        ids = _ready_ids(backend, queue_name, when, batch, floor=floor)
        if ids and _claim(Delivery.objects.filter(pk__in=ids), more, when):
            return more
        return None

    def first() -> Q:
        return Q(priority__gt=floor[0])

    counts = send_claimed(token, claim_more=partial(retrying, claim_more) if limit else None,
                          jump=jumper(backend, first, tokens, until=drain_until))
    if bookkeeping.outages() != outages:
        bookkeeping.drop_connections()  # the worker's own, dead since the outage
    if not shutdown.stopping.is_set():
        if summoned is not None and time.monotonic() > drain_until:
            _summon_again(summoned)  # its time is up with rows left: a task goes on
        maybe_sweep()
    return counts


def _summon_again(key: handoff.Key) -> None:
    """Summon a task for queue ``key`` if ready rows remain (a drain's follow-on)."""
    if retrying(Delivery.objects.filter(
            status__in=READY, next_attempt_at__lte=timezone.now(), task_backend=key[0],
            queue_name=key[1]).exists):
        row = Delivery(task_backend=key[0], queue_name=key[1], priority=key[2])
        hand_off(row)


def _ready_ids(backend: str, queue_name: str, now: datetime, limit: int,
               exclude: int | None = None, floor: list[int] | None = None) -> list[int]:
    """Up to ``limit`` ready rows of task ``backend`` and queue ``queue_name``, next first.

    ``floor[0]`` is lowered to the lowest priority among them.
    """
    if limit <= 0:
        return []
    ready = Delivery.objects.filter(
        status__in=READY, next_attempt_at__lte=now,
        task_backend=backend, queue_name=queue_name,
    ).order_by("-priority", "next_attempt_at", "pk")
    if exclude is not None:
        ready = ready.exclude(pk=exclude)
    found = list(ready.values_list("pk", "priority")[:limit])
    if floor is not None and found:
        floor[0] = min(floor[0], found[-1][1])
    return [pk for pk, _priority in found]


def jumper(backend: str, first: Callable[[], Q], tokens: list[str] | None = None,
           until: float | None = None) -> Callable[[], str | None]:
    """Return a ``jump`` for ``send_claimed()``: it claims (up to ``BATCH_SIZE``) the
    ready rows of any queue of task ``backend`` that ``first()`` selects, and returns
    their claim token (appended to ``tokens``), or None when there are none (or
    ``time.monotonic()`` is past ``until``).
    """
    def jump() -> str | None:
        if shutdown.stopping.is_set() or (until is not None and time.monotonic() > until):
            return None
        now = timezone.now()
        ready = Delivery.objects.filter(
            first(), status__in=READY, next_attempt_at__lte=now, task_backend=backend,
        ).order_by("-priority", "next_attempt_at", "pk")
        ids = list(ready.values_list("pk", flat=True)[:max(txmail_settings.BATCH_SIZE, 1)])
        if not ids:
            return None
        token = uuid.uuid4().hex
        if tokens is not None:
            tokens.append(token)
        return token if _claim(Delivery.objects.filter(pk__in=ids), token, now) else None

    return partial(retrying, jump)


def _claim(rows: Any, token: str, now: datetime, due: datetime | None = None) -> int:
    """Claim the ``rows`` ready by ``due`` (default: now) for ``token``; a conditional
    UPDATE, safe under races."""
    return rows.filter(status__in=READY, next_attempt_at__lte=due or now).update(
        status=Status.SENDING, claim_token=token, claimed_at=now, handed_over_at=None,
    )


def send_claimed(token: str, claim_more: Callable[[], str | None] | None = None,
                 low_water: int | None = None,
                 jump: Callable[[], str | None] | None = None) -> dict[str, int]:
    """``send.send_claimed()`` with this queue's hand-off (a campaign's chunks use it too)."""
    return send.send_claimed(token, hand_off=hand_off, claim_more=claim_more,
                             low_water=low_water, jump=jump, jump_every=JUMP_SECONDS)


def sweep(*, older_than: float | None = None, claims: bool = True) -> dict[str, int]:
    """Recover what crashed workers and lost hand-offs left (``recovery.sweep()``), and
    hand it to the task queue again; return the counts."""
    found, again = recovery.sweep(older_than=older_than, claims=claims)
    # A queue's flag set that long ago: its task never started (its worker died, or
    # it was deleted). Cleared, so the hand-offs below enqueue a task again.
    timeout = float(txmail_settings.CLAIM_TIMEOUT if older_than is None else older_than)
    handoff.clear_stale(timezone.now() - timedelta(seconds=timeout))
    for row in again:
        hand_off(row)
    # In passing: idempotency keys whose window has passed (not counted: the
    # rows are spent, nothing waits on them).
    idempotency.expire_keys()
    return found


_throttle = tasking.Throttle()


def maybe_sweep() -> None:
    """Sweep from inside a worker at most once per ``CLAIM_TIMEOUT / 2`` per process,
    and prune old rows at most once an hour (``retention.maybe_prune()``)."""
    bookkeeping.sweep_in_passing(_throttle, sweep, "delivery")
    retention.maybe_prune()

