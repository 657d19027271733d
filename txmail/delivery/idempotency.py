"""Idempotency keys: one delivery per message class and key within a window.

``claim()`` inserts an ``IdempotencyKey`` row in the caller's transaction,
inside a savepoint, before anything is sent or stored; the unique constraint
on (message class, key) is what decides, so concurrent callers make one row.
On PostgreSQL a second inserter waits on the first's uncommitted row: if the
first commits it gets an ``IntegrityError`` and finds the first's delivery; if
the first rolls back its insert goes through and it sends. A key whose window
has passed is taken over (a conditional UPDATE, so only one caller does),
unless its delivery hasn't ended (scheduled past the window, retrying,
throttled): it holds until that delivery ends, or a second would be sent.
``expire_keys()`` deletes the rows whose window has passed (the sweep calls it).
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, models, router, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import FINAL, Delivery, Status

# How long after a key was taken a duplicate waits for the first send() to write
# its delivery row (autocommit: the key is committed a moment before the row);
# then it reports what it knows.
WAIT_FOR_FIRST = 10.0
# A delivery in one of these holds its key past the window: it may still be sent.
PENDING = [status for status in Status if status not in FINAL]


class IdempotencyKey(models.Model):
    message_class = models.CharField(_("message class"), max_length=200)
    key = models.CharField(_("idempotency key"), max_length=200)
    delivery = models.ForeignKey(Delivery, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", verbose_name=_("first delivery"))
    # The first delivery's Message-ID: a duplicate finds its row by it before
    # the key row is linked (a send() in progress in autocommit).
    message_id = models.CharField(_("Message-ID"), max_length=998, blank=True)
    created_at = models.DateTimeField(_("window start"))
    expires_at = models.DateTimeField(_("window end"), db_index=True)

    class Meta:
        app_label = "txmail"
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [models.UniqueConstraint(fields=["message_class", "key"],
                                               name="txmail_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.message_class} {self.key}"

    @property
    def provider_key(self) -> str:
        """The key given to providers that take one: class, key and window start.

        Unique per window: a provider that keeps keys longer than the window
        (Resend: 24 hours) must not refuse the next window's message.
        """
        return f"{self.message_class}/{self.key}/{self.created_at:%Y%m%dT%H%M%S.%fZ}"


@dataclass
class First:
    """The delivery that holds a key: what a duplicate call returns."""

    key: str
    delivery_id: int | None
    message_id: str
    mailer: str = ""


def _db() -> str:
    return router.db_for_write(IdempotencyKey)


def claim(message_class: str, key: str, window: timedelta, message_id: str
          ) -> IdempotencyKey | First:
    """Take ``key`` for a message about to be sent or stored; return the row, or the first.

    The row is written in the caller's transaction (a savepoint): a rollback
    frees the key. A ``First`` means a call within the window holds it: send
    nothing. Counts the duplicate on the first delivery (``Delivery.duplicates``).
    """
    using = _db()
    while True:
        now = timezone.now()
        row = IdempotencyKey(message_class=message_class, key=key, message_id=message_id,
                             created_at=now, expires_at=now + window)
        try:
            with transaction.atomic(using=using):
                row.save(force_insert=True, using=using)
            return row
        except IntegrityError:
            pass  # it is taken (on PostgreSQL: once the holder committed)
        held = IdempotencyKey.objects.using(using).filter(
            message_class=message_class, key=key).first()
        if held is None:
            continue  # expired and deleted meanwhile: try again
        if held.expires_at <= now and not _pending(held, using):
            # The window has passed: take it over, unless another caller just did.
            if IdempotencyKey.objects.using(using).filter(
                    pk=held.pk, expires_at__lte=now).update(
                    delivery=None, message_id=message_id, created_at=now,
                    expires_at=now + window):
                held.delivery_id, held.message_id = None, message_id
                held.created_at, held.expires_at = now, now + window
                return held
            continue
        if (first := _counted(held, using)) is not None:
            return first
        # The first call gave the key back (its send failed): try again.


def duplicate(message_class: str, key: str) -> First | None:
    """The first delivery if ``key`` is held within its window, counted; else None.

    A cheap look-up before rendering; ``claim()`` decides for those it lets by.
    """
    using = _db()
    held = IdempotencyKey.objects.using(using).filter(
        Q(expires_at__gt=timezone.now()) | Q(delivery__status__in=PENDING),
        message_class=message_class, key=key).first()
    return None if held is None else _counted(held, using)


def _pending(held: IdempotencyKey, using: str) -> bool:
    """Whether ``held``'s delivery hasn't ended yet (then the key holds past its window)."""
    return held.delivery_id is not None and Delivery.objects.using(using).filter(
        pk=held.delivery_id, status__in=PENDING).exists()


def _counted(held: IdempotencyKey, using: str) -> First | None:
    first = _first(held, using)
    if first is not None and first.delivery_id is not None:
        Delivery.objects.using(using).filter(pk=first.delivery_id).update(
            duplicates=F("duplicates") + 1)
    return first


def atomic() -> transaction.Atomic:
    """A transaction (or a savepoint in the caller's) on the keys' database."""
    return transaction.atomic(using=_db())


def _first(held: IdempotencyKey, using: str) -> First | None:
    """The delivery holding ``held``; waits a little for a send() about to write its row.

    Only for a key taken moments ago: a key whose delivery row was deleted since
    (the admin, retention) has none to wait for.
    """
    deadline = held.created_at + timedelta(seconds=WAIT_FOR_FIRST)
    while True:
        delivery_id = held.delivery_id
        if delivery_id is None and held.message_id:
            delivery_id = Delivery.objects.using(using).filter(
                message_id=held.message_id).values_list("pk", flat=True).first()
        if delivery_id is not None or timezone.now() > deadline:
            mailer = Delivery.objects.using(using).filter(pk=delivery_id).values_list(
                "mailer", flat=True).first() if delivery_id else None
            return First(held.key, delivery_id, held.message_id, mailer or "")
        time.sleep(0.05)
        again = IdempotencyKey.objects.using(using).filter(pk=held.pk).first()
        if again is None:
            return None
        held = again


def link(row: IdempotencyKey, delivery_id: int | None) -> None:
    """Record the delivery that holds ``row``'s key."""
    if delivery_id is not None:
        IdempotencyKey.objects.using(_db()).filter(pk=row.pk).update(delivery_id=delivery_id)
        row.delivery_id = delivery_id


def release(row: IdempotencyKey) -> None:
    """Give the key back: the call that held it sent nothing (its send failed)."""
    IdempotencyKey.objects.using(_db()).filter(pk=row.pk, created_at=row.created_at).delete()


def expire_keys(now: datetime | None = None) -> int:
    """Delete the keys whose window has passed and whose delivery ended; return how many."""
    deleted, _by_model = IdempotencyKey.objects.using(_db()).filter(
        expires_at__lte=now or timezone.now()).exclude(delivery__status__in=PENDING).delete()
    return deleted
