"""What an operator does to deliveries, from the admin or the ``txmail`` command.

Each function takes a queryset and returns how many rows it changed. Rows
change only through conditional UPDATEs, so an action racing a worker never
undoes what the worker did; history is never edited: "send again" makes a
new row.
"""

from datetime import datetime
from email import message_from_bytes
from email.policy import SMTP
from email.utils import make_msgid
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from ..conf import txmail_settings
from .models import READY, Delivery, Status, drop_secret_bodies
from .queue import hand_off, sweep

RETRYABLE = (Status.FAILED, Status.RETRYING)
# Why a row can't be sent again, for the admin and the command.
NO_BODY = ("its body is no longer stored: it held a secret such as a reset link "
           "(DeliveryOptions.secret_body), or TXMAIL['KEEP_BODIES'] or "
           "TXMAIL['BODY_RETENTION'] let it go. Send a new message instead")


def without_body(rows: "QuerySet[Delivery]") -> "QuerySet[Delivery]":
    """The ended or failed rows among ``rows`` that can't be sent again: no body left."""
    return rows.filter(body__isnull=True).exclude(status__in=[*READY, Status.SENDING])


def retry_now(rows: "QuerySet[Delivery]") -> int:
    """Queue failed (and waiting) rows again for an attempt now."""
    now = timezone.now()
    ids = list(rows.filter(status__in=RETRYABLE, body__isnull=False).values_list("pk", flat=True))
    # One UPDATE, with a fresh budget of attempts counted from the row's own.
    changed = Delivery.objects.filter(pk__in=ids, status__in=RETRYABLE).update(
        status=Status.RETRYING, next_attempt_at=now, claim_token="", queued=True,
        max_attempts=F("attempts") + txmail_settings.MAX_ATTEMPTS,
    )
    for row in Delivery.objects.filter(pk__in=ids, status=Status.RETRYING):
        transaction.on_commit(partial(hand_off, row))
    return changed


def cancel(rows: "QuerySet[Delivery]", reason: str = "Cancelled by an operator.") -> int:
    """Cancel rows that no worker has claimed yet, scheduled ones too (a secret body is
    dropped with it)."""
    ids = list(rows.filter(status__in=READY).values_list("pk", flat=True))
    changed = Delivery.objects.filter(pk__in=ids, status__in=READY).update(
        status=Status.CANCELLED, claim_token="", last_error=reason,
        updated_at=timezone.now())
    drop_secret_bodies(Delivery.objects.filter(pk__in=ids))
    return changed


def reschedule(rows: "QuerySet[Delivery]", when: datetime) -> int:
    """Move rows no worker has claimed to ``when``; return how many moved.

    A row whose deadline (``expires_at``) comes first stays as it is. Each
    moved row gets a task for its new time; the task of its old time finds it
    not due and leaves it (``queue.run()``).
    """
    later = when > timezone.now()
    movable = rows.filter(status__in=READY).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=when))
    ids = list(movable.values_list("pk", flat=True))
    # Scheduled until then; now, it is queued as it was (retrying stays retrying).
    status = Value(Status.SCHEDULED) if later else Case(
        When(status=Status.SCHEDULED, then=Value(Status.QUEUED)), default=F("status"))
    changed = Delivery.objects.filter(pk__in=ids, status__in=READY).update(
        status=status, next_attempt_at=when, send_at=when, needs_handoff=False,
        claim_token="", updated_at=timezone.now())
    for row in Delivery.objects.filter(pk__in=ids, status__in=READY, next_attempt_at=when):
        transaction.on_commit(partial(hand_off, row, run_after=when if later else None))
    return changed


def send_again(rows: "QuerySet[Delivery]") -> list[Delivery]:
    """Queue a new copy of each row that still has its bytes, with a new Message-ID."""
    copies = []
    for row in rows.exclude(body__isnull=True).exclude(status__in=[*READY, Status.SENDING]):
        raw, message_id = _new_message_id(bytes(row.raw or b""), row.message_id)
        copy = row.copy(raw=raw, message_id=message_id, max_attempts=txmail_settings.MAX_ATTEMPTS)
        copy.save()
        transaction.on_commit(partial(hand_off, copy))
        copies.append(copy)
    return copies


def _new_message_id(raw: bytes, old: str) -> tuple[bytes, str]:
    """The same bytes under a new Message-ID: receivers drop a repeated one as a duplicate."""
    msg: Any = message_from_bytes(raw, policy=SMTP)
    domain = old.rpartition("@")[2].rstrip(">") or None
    message_id = make_msgid(domain=domain)
    if msg["Message-ID"] is None:
        msg["Message-ID"] = message_id
    else:
        msg.replace_header("Message-ID", message_id)
    return msg.as_bytes(), message_id


def requeue_stuck(older_than: float | None = None) -> dict[str, int]:
    """Recover rows claimed by workers that died (see ``queue.sweep``)."""
    return sweep(older_than=older_than)
