"""Send times, deadlines and the last check: what is decided before a hand-over.

``enqueue()`` stores a row ``scheduled`` until its send time (``row_fields()``),
with its deadline (``expires_at``) and the data of the class's last check
(``send_check``, from ``Message.get_send_check()``). Just before the hand-over a
worker calls ``before_hand_over()``: a row past its deadline ends ``expired``
(never sent late), and the class's ``still_wanted(data)`` may end it
``cancelled``. The sweep expires the rows nobody claimed in time
(``expire_overdue()``), so a queue with no worker still ends them.

The delivery layer never imports the message classes (import-linter): the
app's ``ready()`` gives this module ``find_class`` (the registry's look-up).
"""

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import router, transaction
from django.db.models import F, Q
from django.utils import timezone

from .. import schedule
from ..exceptions import CancelSend, MessageConfigurationError
from ..signals import send_cancelled
from . import rows
from .log import notify
from .models import READY, Delivery, Status

logger = logging.getLogger("txmail.delivery")

# The registry's look-up, registry name → message class (set by ``TxmailConfig.ready()``).
find_class: Callable[[str], Any] | None = None
# Rows the sweep expires per run, at most: a backlog goes over several sweeps.
EXPIRE_BATCH = 1000


def use(lookup: Callable[[str], Any]) -> None:
    """Resolve message classes by registry name with ``lookup`` (``registry.get_message_class``)."""
    global find_class
    find_class = lookup


def _at(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S %Z}"


def row_fields(options: Any, *, time_zone: Any = None, send_check: Any = None,
               owner: str = "", now: datetime | None = None) -> dict[str, Any]:
    """The schedule fields of a new row: its status, send time, deadline and check data."""
    now = now or timezone.now()
    when = schedule.send_time(options, time_zone, now)
    expires = schedule.deadline(options, now)
    if expires is not None and when is not None and expires <= when:
        raise MessageConfigurationError(
            f"{owner or 'enqueue()'}: it would expire at {_at(expires)}, before its send "
            f"time {_at(when)}, so it could never be sent. Give a later expires_at (or a "
            "longer expires_after, counted from enqueue()) or an earlier send_at / delay.")
    fields: dict[str, Any] = {"expires_at": expires, "send_check": send_check}
    if when is not None:
        fields["send_at"] = when
        if when > now:
            fields.update(status=Status.SCHEDULED, next_attempt_at=when)
    return fields


def claimable(now: datetime) -> Q:
    """Rows a task may claim for its own with the clock margin: a scheduled one only once due."""
    return Q(next_attempt_at__lte=now) | ~Q(status=Status.SCHEDULED)


def wait_until_due(row: Delivery, now: datetime, margin: timedelta) -> datetime:
    """Let a scheduled row's own task that ran a moment early wait for its time; return now.

    The enqueuing host's clock may run a little ahead of this one's: a task
    up to ``margin`` early sleeps rather than leave its row to the sweep.
    Earlier than that (the row was rescheduled), it claims nothing: the new
    time's task sends it.
    """
    due = row.next_attempt_at
    if row.status == Status.SCHEDULED and due is not None and now < due <= now + margin:
        time.sleep((due - now).total_seconds())
        return timezone.now()
    return now


def before_hand_over(row: Delivery, token: str, *, retry_at: datetime,
                     hand_off: Callable[..., None]) -> str | None:
    """End a claimed row that must not go out now; return its status, or None to send it.

    ``expired`` past its deadline; ``cancelled`` when its class's
    ``still_wanted()`` says no; ``retrying`` (at ``retry_at``, then ``failed``
    once out of attempts) when the check can't run: never sent unchecked.
    """
    if (ended := expire_if_overdue(row, token)) is not None:
        return ended
    if row.send_check is None:
        return None
    cls = None
    try:
        cls = _class_of(row)
        verdict = cls.still_wanted(row.send_check)
        if not isinstance(verdict, bool):
            raise TypeError(f"it returned {verdict!r}: return True or False (raise "
                            "txmail.CancelSend('why') to give a reason)")
    except CancelSend as exc:
        return _cancel(row, token, cls, str(exc) or "still_wanted() raised CancelSend")
    except Exception as exc:
        logger.exception("txmail: the last check of delivery %s could not run", row.pk)
        return _unchecked(row, token, exc, retry_at, hand_off)
    if verdict:
        return None
    return _cancel(row, token, cls, f"{row.message_class}.still_wanted({row.send_check!r}) "
                   "returned False: no longer wanted.")


def expire_if_overdue(row: Delivery, token: str) -> str | None:
    """End a claimed row past its deadline ``expired``; return its status, or None."""
    if row.expires_at is None or timezone.now() < row.expires_at:
        return None
    return expire(row, token, f"Not handed over by {_at(row.expires_at)}, its deadline "
                  "(DeliveryOptions.expires_at / expires_after): expired, never sent late.")


def _class_of(row: Delivery) -> Any:
    if find_class is None:
        raise LookupError("txmail's app is not ready: 'txmail' must be in INSTALLED_APPS of "
                          "the worker's settings")
    return find_class(row.message_class)


def _mine(row: Delivery, token: str) -> Any:
    return Delivery.objects.filter(pk=row.pk, claim_token=token, status=Status.SENDING)


def _ended(row: Delivery, status: str, last_error: str, token: str, **more: Any) -> bool:
    """End a claimed row; its secret body goes with it. False: the claim was taken back."""
    fields: dict[str, Any] = {"status": status, "last_error": last_error, "claim_token": "",
                              "updated_at": timezone.now(), **more}
    if row.secret_body:
        fields["raw"] = None
    drop = fields.pop("raw", False) is None
    with transaction.atomic(using=router.db_for_write(Delivery)):
        if not _mine(row, token).update(**fields):
            return False
        if drop:
            rows.drop_body(row.pk)
            row.raw = None
    for name, value in fields.items():
        if name != "attempts":
            setattr(row, name, value)
    return True


def expire(row: Delivery, token: str, reason: str) -> str:
    """End a claimed row ``expired`` with ``reason``; return its status."""
    return Status.EXPIRED if _ended(row, Status.EXPIRED, reason, token) else "lost"


def _cancel(row: Delivery, token: str, cls: Any, reason: str) -> str:
    if not _ended(row, Status.CANCELLED, f"Cancelled by the last check: {reason}", token):
        return "lost"
    # As for a pre_send cancellation, with no message instance in a worker.
    notify(send_cancelled, cls, message=None, mailer=row.mailer, reason=reason, email=None,
           delivery=row, queued=True)
    return Status.CANCELLED


def _unchecked(row: Delivery, token: str, exc: Exception, retry_at: datetime,
               hand_off: Callable[..., None]) -> str:
    """The check raised (or the class is gone): not sent; tried again while attempts last."""
    what = (f"The last check ({row.message_class}.still_wanted()) could not run: "
            f"{type(exc).__name__}: {exc}. Not sent")
    attempts = row.attempts + 1  # the check counts as an attempt: a broken one ends
    in_time = row.expires_at is None or retry_at < row.expires_at
    if attempts < row.max_attempts and in_time:
        if not _ended(row, Status.RETRYING, f"{what}; tried again at {_at(retry_at)}.", token,
                      attempts=F("attempts") + 1, next_attempt_at=retry_at):
            return "lost"
        row.attempts = attempts
        hand_off(row, run_after=retry_at)
        return Status.RETRYING
    if row.expires_at is not None and not in_time:
        return expire(row, token, f"{what}; the next try would come after its deadline "
                      f"{_at(row.expires_at)}: expired.")
    done = _ended(row, Status.FAILED, f"{what}; gave up after {attempts} attempts.", token,
                  attempts=F("attempts") + 1)
    return Status.FAILED if done else "lost"


def expire_overdue(now: datetime) -> int:
    """Expire the unclaimed rows past their deadline (the sweep); return how many."""
    overdue = Delivery.objects.filter(status__in=READY, expires_at__lte=now)
    expired = 0
    for pk, expires_at in overdue.values_list("pk", "expires_at")[:EXPIRE_BATCH]:
        expired += Delivery.objects.filter(pk=pk, status__in=READY).update(
            status=Status.EXPIRED, claim_token="", updated_at=now,
            last_error=f"Not handed over by {_at(expires_at or now)}, its deadline "
            "(DeliveryOptions.expires_at / expires_after): no worker took it in time; "
            "expired, never sent late.")
    return expired  # the sweep's drop_bodies() then drops their secret bodies
