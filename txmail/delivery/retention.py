"""Retention: ended delivery rows, with their events, deleted after ``TXMAIL["RETENTION"]``.

``RETENTION["statuses"]`` gives seconds per final status, ``RETENTION["classes"]``
seconds per message class; a class's entry wins over the status entries for
every row of that class (None: keep that class's rows for good). A row's age is
counted from when it ended (``updated_at``), as ``BODY_RETENTION`` counts. Rows
not ended (queued, sending, retrying, scheduled, throttled) are never deleted,
whatever the setting says.

``prune()`` deletes in batches of ``BATCH`` rows, each its own short
transaction, so a backlog of millions neither loads nor locks them at once.
``manage.py txmail prune`` runs it to the end; workers run it in passing at
most once an hour (``maybe_prune()``, for ``PRUNE_SECONDS``); ``prune_task`` is
the same as a ``django.tasks`` task, for a scheduler (cron, Celery beat).

Deleting a row deletes its provider events (``DeliveryEvent``); a campaign's
recipient row (``bulk.models.Recipient``) and a suppression entry that pointed
at it keep their other fields, with no delivery.
"""

import logging
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.tasks import task
from django.utils import timezone

from .. import tasking
from ..conf import txmail_settings
from . import bookkeeping
from .models import FINAL, Delivery

logger = logging.getLogger("txmail.delivery")

BATCH = 500  # rows per DELETE
PRUNE_EVERY = 3600.0  # seconds between a worker's prunes in passing
PRUNE_SECONDS = 10.0  # how long a worker prunes in passing, at most


def periods() -> tuple[dict[str, float | None], dict[str, float | None]]:
    """``RETENTION``'s seconds per final status and per message class."""
    configured = txmail_settings.RETENTION
    statuses = {name: seconds for name, seconds in configured.get("statuses", {}).items()
                if name in FINAL}
    return statuses, dict(configured.get("classes", {}))


def due(now: datetime | None = None) -> QuerySet[Delivery]:
    """The ended rows ``RETENTION`` no longer keeps (none when it keeps everything)."""
    now = now or timezone.now()
    statuses, classes = periods()

    def older(seconds: float) -> Q:
        return Q(updated_at__lt=now - timedelta(seconds=float(seconds)))

    wanted = Q(pk__in=[])
    for name, seconds in classes.items():
        if seconds is not None:
            wanted |= Q(message_class=name) & older(seconds)
    for status, seconds in statuses.items():
        if seconds is not None:
            wanted |= Q(status=status) & older(seconds) & ~Q(
                message_class__in=list(classes))
    return Delivery.objects.filter(wanted, status__in=FINAL)


def prune(*, dry_run: bool = False, now: datetime | None = None,
          seconds: float | None = None) -> dict[tuple[str, str], int]:
    """Delete the rows ``RETENTION`` no longer keeps; return how many per (status, class).

    ``dry_run`` only counts them. ``seconds`` stops after the batch that runs
    past it (the rest waits for the next prune).
    """
    rows = due(now)
    if dry_run:
        counted = rows.order_by().values_list("status", "message_class").annotate(n=Count("pk"))
        return {(status, name): n for status, name, n in counted}
    deadline = None if seconds is None else time.monotonic() + seconds
    found: Counter[tuple[str, str]] = Counter()
    while True:
        # Unordered: the first BATCH the database finds, without sorting all that are due.
        batch = list(rows.order_by().values_list("pk", "status", "message_class")[:BATCH])
        if not batch:
            break
        # Each batch is its own transaction (delete() opens one), with the events it takes.
        deleted, _by_model = Delivery.objects.filter(
            pk__in=[pk for pk, _s, _c in batch], status__in=FINAL).only("pk").delete()
        found.update((status, name) for _pk, status, name in batch)
        late = deadline is not None and time.monotonic() > deadline
        if not deleted or len(batch) < BATCH or late:
            break
    return dict(found)


def configured() -> bool:
    """Whether ``RETENTION`` deletes anything at all."""
    statuses, classes = periods()
    return any(s is not None for s in (*statuses.values(), *classes.values()))


_throttle = tasking.Throttle()


def maybe_prune() -> None:
    """Prune from inside a worker at most once per ``PRUNE_EVERY`` per process.

    A worker never stops for it: an outage is waited out, any other error logged.
    """
    try:
        if not configured() or not _throttle.due(PRUNE_EVERY):
            return
        pruned = prune(seconds=PRUNE_SECONDS)
    except bookkeeping.LOST as exc:
        bookkeeping.saw_outage()
        logger.warning("txmail: pruning old deliveries could not reach the database (%s)", exc)
        return
    except Exception:
        logger.exception("txmail: pruning old deliveries failed")
        return
    if pruned:
        logger.info("txmail: pruned %d deliveries past TXMAIL['RETENTION']",
                    sum(pruned.values()))


@task()
def prune_task() -> dict[str, Any]:
    """``prune()`` as a task, for a scheduler: counts by ``"status class"``."""
    return {f"{status} {name}".strip(): n for (status, name), n in prune().items()}
