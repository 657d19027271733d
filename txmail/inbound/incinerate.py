"""Inbound rows deleted ``TXMAIL["INBOUND"]["RETENTION"]`` seconds after they ended.

Received mail holds what strangers sent: it is kept 30 days by default, counted
from when it ended (processed, failed, bounced), then deleted with its bytes;
rows not ended are never deleted. ``manage.py txmail prune`` runs
``incinerate()`` after the delivery log's prune; workers run it in passing at
most once an hour; ``incinerate_task`` is the same for a scheduler.
"""

import logging
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.tasks import task
from django.utils import timezone

from .. import tasking
from ..delivery import bookkeeping
from ..delivery.retention import BATCH, PRUNE_EVERY, PRUNE_SECONDS
from . import configured
from .models import ENDED, InboundMessage

logger = logging.getLogger("txmail.inbound")


def due(now: datetime | None = None) -> QuerySet[InboundMessage]:
    """The ended rows past the retention period (none when it is None)."""
    seconds = configured.setting("RETENTION")
    if seconds is None:
        return InboundMessage.objects.none()
    cutoff = (now or timezone.now()) - timedelta(seconds=float(seconds))
    return InboundMessage.objects.filter(status__in=ENDED, updated_at__lt=cutoff)


def incinerate(*, dry_run: bool = False, now: datetime | None = None,
               seconds: float | None = None) -> int:
    """Delete the rows past the retention period, in batches; return how many."""
    rows = due(now)
    if dry_run:
        return rows.count()
    deadline = None if seconds is None else timezone.now() + timedelta(seconds=seconds)
    total = 0
    while True:
        batch = list(rows.order_by().values_list("pk", flat=True)[:BATCH])
        if not batch:
            break
        deleted, _by_model = InboundMessage.objects.filter(
            pk__in=batch, status__in=ENDED).delete()
        total += deleted
        if not deleted or len(batch) < BATCH or (deadline and timezone.now() > deadline):
            break
    return total


_throttle = tasking.Throttle()


def maybe_incinerate() -> None:
    """From inside a worker, at most once an hour; never stopping it."""
    try:
        if configured.setting("RETENTION") is None or not _throttle.due(PRUNE_EVERY):
            return
        deleted = incinerate(seconds=PRUNE_SECONDS)
    except bookkeeping.LOST as exc:
        bookkeeping.saw_outage()
        logger.warning("txmail: deleting old inbound mail could not reach the database (%s)",
                       exc)
        return
    except Exception:
        logger.exception("txmail: deleting old inbound mail failed")
        return
    if deleted:
        logger.info("txmail: deleted %d inbound messages past TXMAIL['INBOUND']['RETENTION']",
                    deleted)


@task()
def incinerate_task() -> int:
    """``incinerate()`` as a task, for a scheduler: how many rows were deleted."""
    return incinerate()
