"""A queue you can see is stuck: messages wait and no worker takes them.

``stalled()`` is read by ``manage.py txmail status``, the delivery admin's list
and the preview's Sent page. It looks at what the rows record: due waiting
rows (``queued``/``retrying`` with ``next_attempt_at`` passed) and the last
``claimed_at`` a worker stamped on a queued row of the same task backend and
queue. A running worker polls every second (``db_worker --interval``) and
claims every due row of its queue with each task, and a busy one keeps
claiming as it goes; so rows due for ``STALL_AFTER`` seconds while nothing at
all was claimed in that time have no worker. A backlog a worker is working
through is not a stall.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min, Q
from django.tasks import DEFAULT_TASK_QUEUE_NAME, task_backends
from django.tasks.exceptions import InvalidTaskBackend
from django.utils import timezone
from django.utils.timesince import timesince

from ..conf import txmail_settings
from .models import READY, Delivery

STALL_AFTER = 60.0  # seconds a due row waits, with no claim at all, before it's a stall


@dataclass(frozen=True)
class Stall:
    """Rows of one task backend and queue that wait with no worker claiming any."""

    task_backend: str
    queue_name: str
    count: int
    due_since: datetime
    last_claim: datetime | None  # None: no worker ever claimed a row of this queue
    not_handed_off: int  # rows the task backend never got (the sweep hands them off)
    now: datetime

    def __str__(self) -> str:
        waiting = ("1 message is waiting" if self.count == 1
                   else f"{self.count} messages are waiting")
        where = f"task backend {self.task_backend!r}, queue {self.queue_name!r}"
        if self.last_claim is None:
            claimed = "no worker has claimed one yet"
        else:
            claimed = f"no worker has claimed one since {_when(self.last_claim, self.now)}"
        return (f"{waiting} ({where}; due since {_when(self.due_since, self.now)}) and "
                f"{claimed}: {self.fix()}.")

    def fix(self) -> str:
        """What to run, in words, for this backend."""
        sweep = ("run `python manage.py txmail sweep` (or keep `txmail sweep --every 60` "
                 "running), which hands them to the task backend again")
        try:
            backend = task_backends[self.task_backend]
        except InvalidTaskBackend:
            return (f"task backend {self.task_backend!r} is no longer in settings.TASKS; "
                    "add it back, then start its worker")
        kind = type(backend).__name__
        if kind == "ImmediateBackend":  # runs tasks on hand-off: only a lost hand-off waits
            return sweep
        if kind == "DummyBackend":
            return (f"task backend {self.task_backend!r} is Django's DummyBackend, which "
                    "never runs tasks; point TXMAIL['TASK_BACKEND'] (or the class's "
                    "DeliveryOptions.task_backend) at one that does")
        if type(backend).__module__.startswith("django_tasks_db"):
            start = "start `python manage.py db_worker" + (
                f" --backend {self.task_backend}" if self.task_backend != "default" else ""
            ) + (f" --queue-name {self.queue_name}"
                 if self.queue_name != DEFAULT_TASK_QUEUE_NAME else "") + "`"
        else:
            start = f"start a worker for task backend {self.task_backend!r} ({kind})"
        if self.not_handed_off:
            start += f"; {self.not_handed_off} of them never reached it, so also {sweep}"
        return start


def _when(moment: datetime, now: datetime) -> str:
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return f"{local:%Y-%m-%d %H:%M:%S %Z}".rstrip() + f" ({timesince(moment, now)} ago)"


def stalled(now: datetime | None = None, after: float = STALL_AFTER) -> list[Stall]:
    """Return the task backends and queues whose due rows wait with no worker claiming any.

    Cheap when nothing waits (one query on the ``txmail_ready`` index); only a
    queue with rows overdue by ``after`` seconds costs a look at its claims.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=after)
    waiting = (Delivery.objects.filter(status__in=READY, next_attempt_at__lte=cutoff)
               .values("task_backend", "queue_name")
               .annotate(count=Count("pk"), due=Min("next_attempt_at"),
                         lost=Count("pk", filter=Q(needs_handoff=True)))
               .order_by("task_backend", "queue_name"))
    stalls = []
    for group in waiting:
        backend = group["task_backend"] or txmail_settings.TASK_BACKEND
        claims = Delivery.objects.filter(queued=True, claimed_at__isnull=False,
                                         task_backend=group["task_backend"],
                                         queue_name=group["queue_name"])
        if claims.filter(claimed_at__gt=cutoff).exists():
            continue  # a worker is at it: a backlog, not a stall
        stalls.append(Stall(
            task_backend=backend, queue_name=group["queue_name"] or DEFAULT_TASK_QUEUE_NAME,
            count=group["count"], due_since=group["due"],
            last_claim=claims.aggregate(t=Max("claimed_at"))["t"],
            not_handed_off=group["lost"], now=now))
    return stalls
