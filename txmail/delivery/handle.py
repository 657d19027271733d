"""``Queued``: what ``enqueue()`` returns, a handle on the queued message.

In the spirit of ``django.tasks``' ``TaskResult``: it names the delivery and
the Message-ID, and its ``status`` is read from the delivery log each time it
is asked for, until it is final (then it can't change). What it says depends
on when it is asked: under Django's immediate task backend, ``enqueue()``
outside a transaction has sent the message before it returns (``sent``), and
inside one it is ``queued`` until the transaction commits and ``sent`` right
after; under a worker's backend it is ``queued`` until a worker claims it
(``sending``), then ``sent``, ``retrying``, ``failed``, ... and ``deleted`` once
the row is gone (``TXMAIL["RETENTION"]``, ``txmail.erase()``, the admin): a
duplicate call's handle on a first delivery deleted within the key's window
says so. ``enqueue()`` itself pays no query for it. ``cancel()`` and
``reschedule()`` change it while no worker has claimed it.
"""

from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

from .models import FINAL, Delivery

# The status of a handle whose row was deleted: final, as nothing can change it.
DELETED = "deleted"


class Queued:
    """A queued message: ``delivery_id``, ``message_id`` and its current ``status``."""

    def __init__(self, delivery_id: int | None, message_id: str, status: str | None = None, *,
                 deduplicated: str | None = None) -> None:
        self.delivery_id = delivery_id
        self.message_id = message_id
        self._status = status  # the last status read; None: not read yet
        # The idempotency key, when this handle is the first call's: a call with
        # the same class and key within its window stored it, this one nothing.
        self.deduplicated = deduplicated

    def __repr__(self) -> str:
        again = f" deduplicated={self.deduplicated!r}" if self.deduplicated else ""
        return (f"<Queued delivery={self.delivery_id} message_id={self.message_id!r} "
                f"status={self._status or '(not read)'}{again}>")  # repr() makes no query

    @property
    def status(self) -> str:
        """The delivery's status now (``queued``, ``sending``, ``sent``, ...)."""
        # A final status never changes: no query for it.
        if self._status not in FINAL and self._status != DELETED:
            self.refresh()
        return str(self._status)

    @property
    def is_finished(self) -> bool:
        """Whether the message reached a final status (sent, failed, unknown, ...)."""
        return self.status in FINAL or self.status == DELETED

    def refresh(self) -> "Queued":
        """Read the status again from the delivery log; return the handle."""
        found = self._rows().values_list("pk", "status").first()
        if found is None:
            self._status = DELETED
        else:
            self.delivery_id, self._status = found
        return self

    def _rows(self) -> "models.QuerySet[Delivery]":
        if self.delivery_id is None:  # a duplicate of a send() still writing its row
            return Delivery.objects.filter(message_id=self.message_id).order_by("pk")[:1]
        return Delivery.objects.filter(pk=self.delivery_id)

    def _row(self) -> "models.QuerySet[Delivery]":
        """The row, by its primary key (none once it was deleted)."""
        if self.delivery_id is None:
            self.refresh()  # finds the row by its Message-ID
        if self.delivery_id is None:
            return Delivery.objects.none()
        return Delivery.objects.filter(pk=self.delivery_id)

    def cancel(self, reason: str = "Queued.cancel() was called.") -> bool:
        """Cancel it if no worker has claimed it yet (scheduled, queued, retrying).

        Return whether it was cancelled: a conditional UPDATE, so a message a
        worker is sending, or that ended, is left as it is.
        """
        from .actions import cancel  # the queue's module: imported when needed

        done = bool(cancel(self._row(),
                           reason=f"Cancelled: {reason}"))
        self.refresh()
        return done

    def reschedule(self, when: datetime | timedelta) -> bool:
        """Send it at ``when`` (an aware datetime, or a delay from now) instead.

        Return whether it moved: not if a worker claimed it, it ended, or its
        deadline comes first. A task for the new time is handed to the queue
        once the transaction commits.
        """
        from .actions import reschedule

        if isinstance(when, timedelta):
            when = timezone.now() + when
        elif timezone.is_naive(when):
            raise ValueError(f"reschedule({when!r}): give an aware datetime (e.g. "
                             "django.utils.timezone.now() + timedelta(hours=1)) or a "
                             "timedelta.")
        done = bool(reschedule(self._row(), when))
        self.refresh()
        return done

    @property
    def delivery(self) -> Delivery:
        """The delivery-log row, read now."""
        return self._rows().get()

    @classmethod
    def of(cls, row: Delivery, *, final: bool = False) -> "Queued":
        """A handle on ``row``; ``final``: its status can't change (a cancelled row)."""
        return cls(row.pk, row.message_id, row.status if final else None)
