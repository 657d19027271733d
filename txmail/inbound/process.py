"""The worker's side: an inbound row claimed, routed, processed, retried or ended.

``process_inbound`` (a ``django.tasks`` task) claims its row with a conditional
UPDATE (``received``/``retrying`` → ``processing``), so a task that runs twice
processes it once. Then, in order:

1. a VERP return path (``txmail.bounces.is_return_path()``) goes to
   ``txmail.bounces.receive()``, whose summary is the row's ``outcome``;
2. otherwise the mailbox whose route matches the envelope recipient gets it,
   linked to the delivery it replies to (``replies``); no mailbox: ``bounced``.

``process()`` runs in a transaction with the row's outcome: a failure rolls its
writes back before the retry. ``Bounce("why")`` ends the row ``bounced``; any
other error retries it after an exponential backoff (``RETRY_DELAY``,
``RETRY_MAX_DELAY``) until the mailbox's ``max_attempts``
(``TXMAIL["INBOUND"]["MAX_ATTEMPTS"]``), then ends it ``failed``.

``sweep()`` hands off again what a lost hand-off, a backend that can't defer
or a dead worker left; workers run it in passing, with ``incinerate`` hourly.
"""

import logging
from datetime import timedelta
from typing import Any

from django.db import router, transaction
from django.db.models import F, Q
from django.tasks import task, task_backends
from django.utils import timezone

from .. import bounces, tasking
from ..conf import txmail_settings, validate_settings
from ..delivery import bookkeeping
from ..delivery.send import backoff
from ..exceptions import Bounce
from ..signals import inbound_processed
from . import configured, incinerate, mailboxes, replies
from .models import ENDED, READY, InboundMessage, Status

logger = logging.getLogger("txmail.inbound")


def task_for(run_after: Any = None) -> Any:
    """``process_inbound`` configured by ``TXMAIL["INBOUND"]``'s backend and queue."""
    return tasking.configured(process_inbound, configured.task_backend(),
                              str(configured.setting("QUEUE_NAME")), 0,
                              owner="TXMAIL['INBOUND']", run_after=run_after, what="process")


def hand_off(inbound_id: int, run_after: Any = None) -> None:
    """Give the task queue ``inbound_id``; if that can't be done, the sweep does it later."""
    try:
        if run_after is not None and not task_backends[configured.task_backend()].supports_defer:
            return  # the backend can't wait: the sweep hands it off once it is due
        task_for(run_after).enqueue(inbound_id)
    except Exception:
        logger.exception("txmail: could not hand inbound message %s to the task queue; the "
                         "sweep (`manage.py txmail sweep`) hands it off again.", inbound_id)


@task()
def process_inbound(inbound_id: int) -> str:
    """The task: process inbound message ``inbound_id``; return its status."""
    validate_settings()
    status = run(inbound_id)
    maybe_sweep()
    return status


def run(inbound_id: int) -> str:
    """Claim, route and process one row; return its status ('' when it wasn't ready).

    ``inbound_processed`` is sent once the row's end is committed; an error in a
    receiver is logged (the row has ended: raising would process it again).
    """
    now = timezone.now()
    claimed = InboundMessage.objects.filter(pk=inbound_id, status__in=READY).update(
        status=Status.PROCESSING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return ""  # processed by another run of the task, deleted, or not due
    row = InboundMessage.objects.get(pk=inbound_id)
    status, mailbox = handle(row)
    if status in ENDED:
        for receiver, error in inbound_processed.send_robust(sender=mailbox, inbound=row):
            if isinstance(error, Exception):
                logger.error("txmail: an inbound_processed receiver (%r) raised on inbound "
                             "message %s", receiver, row.pk, exc_info=error)
    return status


def handle(row: InboundMessage) -> tuple[str, type[mailboxes.Mailbox] | None]:
    """Route ``row`` and hand it to its return path or mailbox; return its status and mailbox."""
    mailbox: type[mailboxes.Mailbox] | None = None
    try:
        if bounces.is_return_path(row.envelope_recipient):
            outcome = bounces.receive(bytes(row.raw), row.envelope_recipient)
            return end(row, Status.PROCESSED, outcome=str(outcome or "")), None
        found = mailboxes.route_for(row.envelope_recipient)
        if found is None:
            return end(row, Status.BOUNCED, error=(
                f"No mailbox routes {row.envelope_recipient!r}. Give a Mailbox a route that "
                "matches it (or a catch-all: route = '*').")), None
        row.mailbox, mailbox, row.route_kwargs = found
        row.delivery = replies.find_delivery(row.email, row.route_kwargs)
        with transaction.atomic(using=router.db_for_write(InboundMessage)):
            result = mailbox(**row.route_kwargs).process(row)
            outcome = "" if result is None else str(result)
            return end(row, Status.PROCESSED, outcome=outcome), mailbox
    except Bounce as exc:
        return end(row, Status.BOUNCED, error=str(exc)), mailbox
    except Exception as exc:
        logger.warning("txmail: inbound message %s (attempt %d) raised %s: %s", row.pk,
                       row.attempts, type(exc).__name__, exc, exc_info=True)
        limit = (mailbox.max_attempts if mailbox else None) or configured.setting("MAX_ATTEMPTS")
        return retry_or_fail(row, exc, int(limit)), mailbox


FIELDS = ["status", "outcome", "error", "processed_at", "next_attempt_at", "mailbox",
          "route_kwargs", "delivery", "updated_at"]


def end(row: InboundMessage, status: str, *, outcome: str = "", error: str = "") -> str:
    """Write the row's end."""
    row.status, row.outcome, row.error = status, outcome, error
    row.processed_at, row.next_attempt_at = timezone.now(), None
    row.save(update_fields=FIELDS)
    return status


def retry_or_fail(row: InboundMessage, exc: Exception, limit: int) -> str:
    """``failed`` at the last attempt, else ``retrying`` after the backoff."""
    error = f"{type(exc).__name__}: {exc}"
    if row.attempts >= limit:
        return end(row, Status.FAILED, error=f"{error} (attempt {row.attempts} of {limit})")
    row.status, row.error = Status.RETRYING, error
    row.next_attempt_at = timezone.now() + timedelta(seconds=backoff(row.attempts))
    row.save(update_fields=FIELDS)
    hand_off(row.pk, run_after=row.next_attempt_at)
    return Status.RETRYING


def sweep(*, claims: bool = True) -> dict[str, int]:
    """Hand off again the rows a lost hand-off or a dead worker left; return the counts.

    A retry is handed off by the sweep once it is due when the task backend can't
    defer it, else only when it is a claim timeout overdue (its task was lost).
    """
    now = timezone.now()
    late = now - timedelta(seconds=float(txmail_settings.CLAIM_TIMEOUT))
    stale: list[int] = []
    if claims:  # a worker that died processing it (a claim older than CLAIM_TIMEOUT)
        dead = InboundMessage.objects.filter(status=Status.PROCESSING, claimed_at__lt=late)
        stale = list(dead.values_list("pk", flat=True)[:1000])
        dead.filter(pk__in=stale).update(status=Status.RETRYING, next_attempt_at=now)
    due = late if task_backends[configured.task_backend()].supports_defer else now
    waiting = InboundMessage.objects.filter(
        Q(status=Status.RECEIVED, received_at__lt=late)
        | Q(status=Status.RETRYING, next_attempt_at__lte=due)).exclude(pk__in=stale)
    ids = list(waiting.values_list("pk", flat=True)[:1000])
    for inbound_id in [*stale, *ids]:
        hand_off(inbound_id)
    return {"inbound requeued": len(stale), "inbound handed off": len(ids)}


_throttle = tasking.Throttle()


def maybe_sweep() -> None:
    """In passing: the sweep once per ``CLAIM_TIMEOUT / 2``, incineration once an hour."""
    bookkeeping.sweep_in_passing(_throttle, sweep, "inbound")
    incinerate.maybe_incinerate()
