"""Hand-offs: one waiting task per queue, not one task per message.

A message enqueued while a task of its queue (task backend, queue name and
priority) waits to start needs no task of its own: that task, once it starts,
drains every ready row of its queue (``queue.deliver_ready``). A task costs the
worker more CPU than sending the message does (the task backend claims it,
marks it running, stores its result), so a task per message doubled a worker's
cost per message.

``summon()`` sets a queue's ``WaitingTask.waiting`` flag and enqueues a task
only if the flag wasn't set; the task clears it as it starts (``started()``),
before it reads the ready rows. That order is what makes it safe: a summon
that found the flag set ran before the clear, and the row it summoned for was
committed before the summon, so the drain's read, after the clear, sees it. A
flag whose task never started (its worker died first, or the task was deleted)
is cleared by the sweep after ``CLAIM_TIMEOUT``, which also hands the rows it
left waiting to the queue again (``recovery``).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

Key = tuple[str, str, int]  # (task backend, queue name, priority)


class WaitingTask(models.Model):
    task_backend = models.CharField(_("task backend"), max_length=100)
    queue_name = models.CharField(_("queue name"), max_length=100, blank=True)
    priority = models.IntegerField(_("priority"), default=0)
    waiting = models.BooleanField(_("a task waits to start"), default=False)
    since = models.DateTimeField(_("waiting since"))

    class Meta:
        app_label = "txmail"
        verbose_name = _("waiting task")
        verbose_name_plural = _("waiting tasks")
        constraints = [models.UniqueConstraint(
            fields=["task_backend", "queue_name", "priority"], name="txmail_waiting_task")]

    def __str__(self) -> str:
        return f"{self.task_backend} {self.queue_name or '(default)'} {self.priority}"


def _of(key: Key) -> Any:
    backend, queue_name, priority = key
    return WaitingTask.objects.filter(task_backend=backend, queue_name=queue_name,
                                      priority=priority)


def summon(key: Key, enqueue: Callable[[], object]) -> bool:
    """Make sure a task of queue ``key`` waits to start; return True if this call
    enqueued it (``enqueue()``), False if one was already waiting.

    If ``enqueue()`` raises, the flag is cleared again and the error propagates:
    the caller records the lost hand-off (``needs_handoff``).
    """
    now = timezone.now()
    flag = _of(key)
    if not flag.filter(waiting=False).update(waiting=True, since=now):
        if flag.exists():
            # Set when the UPDATE ran, so its task hadn't started: it drains the
            # caller's row once it does (whatever the flag says by now).
            return False
        try:  # the queue's first hand-off
            with transaction.atomic(savepoint=True):
                WaitingTask.objects.create(task_backend=key[0], queue_name=key[1],
                                           priority=key[2], waiting=True, since=now)
        except IntegrityError:  # another process made it first, waiting: its task drains
            return False
    try:
        enqueue()
    except BaseException:
        flag.update(waiting=False)
        raise
    return True


def started(key: Key) -> None:
    """Clear queue ``key``'s flag: the task that starts now drains what was summoned
    before this call; a later summon enqueues a task of its own."""
    _of(key).filter(waiting=True).update(waiting=False)


def clear_stale(stale: datetime) -> int:
    """Clear the flags set before ``stale`` (their task never started); return how many."""
    return WaitingTask.objects.filter(waiting=True, since__lt=stale).update(waiting=False)
