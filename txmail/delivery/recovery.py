"""Recovery: what crashed workers and lost hand-offs left behind goes on its way.

``manage.py txmail sweep`` runs ``queue.sweep()`` (every minute, or from
cron), and workers run it in passing (``queue.maybe_sweep()``); it calls
``sweep()`` here, which returns the rows to hand to the task queue again. It relies on the claims
``queue`` writes: ``claimed_at`` and ``handed_over_at``, renewed as a worker
goes, say whether a worker that stopped had given a message to the mailer.
A worker that is told to stop hands back the rows no mailer had
(``hand_back()``), so they go on at once rather than a claim timeout later.
"""

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from ..conf import txmail_settings
from . import deadline
from .models import FINAL, READY, Delivery, Status, delete_bodies

logger = logging.getLogger("txmail.delivery")


def sweep(*, older_than: float | None = None, claims: bool = True
          ) -> tuple[dict[str, int], list[Delivery]]:
    """Recover what crashed workers and lost hand-offs left behind.

    Return the counts and the rows to hand to the task queue again (one per
    batch: ``one_per_batch()``).

    - claimed longer than ``CLAIM_TIMEOUT`` ago and never handed to the mailer:
      back to the queue;
    - claimed that long ago and handed to the mailer: ``unknown`` (not retried),
      or, where the class sets ``resend_if_unknown``, back to the queue with the
      same bytes while attempts are left;
    - due for longer than that and still waiting, or due and never handed off (a
      backend that can't defer, a failed hand-off): handed to the task queue again;
    - past their deadline (``expires_at``) and unclaimed: ``expired``;
    - ended longer than ``BODY_RETENTION`` ago: the body is dropped.

    ``claims=False`` leaves claims alone (the sweep loops, while a worker may
    still be renewing its claims after a database outage: ``bookkeeping.settled()``).
    """
    timeout = float(txmail_settings.CLAIM_TIMEOUT if older_than is None else older_than)
    now = timezone.now()
    stale = now - timedelta(seconds=timeout)
    expired = deadline.expire_overdue(now)  # first: they are not handed off again
    found: dict[str, Any] = judge_claims(stale, now) if claims else {}
    taken_back = found.pop("ids", [])
    overdue = Delivery.objects.filter(
        Q(next_attempt_at__lt=stale) | Q(pk__in=taken_back)
        | Q(needs_handoff=True, next_attempt_at__lte=now),
        status__in=READY)
    rows = list(overdue.only("pk", "task_backend", "queue_name", "priority")[:1000])
    Delivery.objects.filter(pk__in=[r.pk for r in rows], status__in=READY).update(
        next_attempt_at=now, needs_handoff=False)
    counts = {"requeued": 0, "resent": 0, "unknown": 0, **found,
              **({"expired": expired} if expired else {}), "handed_off": len(rows),
              "bodies_dropped": drop_bodies(now)}
    return counts, one_per_batch(rows)


def judge_claims(stale: datetime, now: datetime) -> dict[str, Any]:
    """Requeue, resend or end ``unknown`` the claims not renewed since ``stale``.

    Return how many of each, and the ids put back in the queue (the sweep
    hands them off).
    """
    claims = Delivery.objects.filter(status=Status.SENDING, claimed_at__lt=stale)
    never_sent = list(claims.filter(handed_over_at__isnull=True).values_list("pk", flat=True))
    requeued = claims.filter(pk__in=never_sent, handed_over_at__isnull=True).update(
        status=Status.RETRYING, claim_token="", next_attempt_at=now,
        last_error="The worker stopped before sending it; requeued.",
    )
    # handed_over_at renews the claim (send_row): older than the timeout means
    # the worker stopped while the mailer had it, not that it waited in a line.
    ambiguous = Delivery.objects.filter(status=Status.SENDING, handed_over_at__lt=stale)
    # A possible copy rather than a possible loss, as the class chose: the same
    # Message-ID lets receivers recognise the copy (RFC 5322, 3.6.4).
    again = list(ambiguous.filter(resend_if_unknown=True, attempts__lt=F("max_attempts"))
                 .values_list("pk", flat=True))
    resent = ambiguous.filter(pk__in=again).update(
        status=Status.RETRYING, claim_token="", handed_over_at=None, next_attempt_at=now,
        last_error="The worker stopped while the mailer had the message; sent again with "
        "the same Message-ID.",
    )
    unknown = ambiguous.update(
        status=Status.UNKNOWN, claim_token="", updated_at=now,
        last_error="The worker stopped while the mailer had the message: it may or may "
        "not have been sent. Not retried, to avoid a duplicate.",
    )  # the sweep's drop_bodies() drops their secret bodies
    return {"requeued": requeued, "resent": resent, "unknown": unknown,
            "ids": [*never_sent, *again]}


def hand_back(rows: list[Delivery]) -> tuple[int, list[Delivery]]:
    """Put claimed rows no mailer had back in the queue now (the worker is stopping).

    Only rows still claimed by their token and never handed over: a lane that
    gave a row to the mailer records its outcome itself. Return how many went
    back and the rows to hand to the task queue: one task per batch takes them
    (``one_per_batch()``), on this worker's successor.
    """
    tokens = {row.claim_token for row in rows}
    count = Delivery.objects.filter(
        pk__in=[row.pk for row in rows], claim_token__in=tokens, status=Status.SENDING,
        handed_over_at__isnull=True,
    ).update(
        # As it was: waiting for its first try, or for another after an error.
        status=Case(When(last_error="", then=Value(Status.QUEUED)),
                    default=Value(Status.RETRYING)),
        claim_token="", next_attempt_at=timezone.now())
    # A task for a row that isn't back (the sweep had it) finds nothing to do.
    return count, one_per_batch(rows) if count else []


BODY_BATCH = 500  # rows per UPDATE
BODY_BATCHES = 20  # UPDATEs per sweep, at most: a backlog goes over several sweeps


def drop_bodies(now: datetime) -> int:
    """Drop the bodies ended rows no longer keep; return how many.

    Secret ones at once (a safety net: they are dropped as the row ends), the
    others ``TXMAIL["BODY_RETENTION"]`` seconds after the row ended
    (``updated_at``), in bounded batches.
    """
    retention = txmail_settings.BODY_RETENTION
    due = Q(secret_body=True)
    if retention is not None:
        due |= Q(updated_at__lt=now - timedelta(seconds=float(retention)))
    kept = Delivery.objects.filter(due, status__in=FINAL, body__isnull=False)
    dropped = 0
    for _batch in range(BODY_BATCHES):
        ids = list(kept.values_list("pk", flat=True)[:BODY_BATCH])
        if ids:
            dropped += delete_bodies(Delivery.objects.filter(pk__in=ids, status__in=FINAL))
        if len(ids) < BODY_BATCH:
            break
    return dropped


def one_per_batch(rows: list[Delivery]) -> list[Delivery]:
    """One row in ``BATCH_SIZE`` of each task backend and queue, to hand off again.

    A task sends its own row and drains the other ready rows of its queue
    (``run()``), so one task per batch recovers them all; a task per row would
    add thousands of empty tasks while a backlog waits.
    """
    batch = max(int(txmail_settings.BATCH_SIZE), 1)
    seen: dict[tuple[str, str], int] = defaultdict(int)
    chosen = []
    for row in sorted(rows, key=lambda r: -r.priority):
        key = (row.task_backend, row.queue_name)
        if seen[key] % batch == 0:
            chosen.append(row)
        seen[key] += 1
    return chosen
