"""Write outcomes to the delivery log and send the delivery signals.

``send_now()`` is the synchronous path behind ``Message.send()``: one row
(unless ``TXMAIL["LOG_SENDS"]`` is False), the send, the outcome. The queue
(``queue.py``) uses ``mark_sent`` / ``mark_failed`` for its claimed rows; both
update only while the row is still claimed by the caller's token.
"""

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.db import router, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

from ..backends.transport import SentMessage, deliver
from ..conf import txmail_settings
from ..exceptions import DeliveryError, DeliveryOutcomeUnknown, TransientDeliveryError
from ..mail import esp, verp
from ..mail.frozen import freeze
from ..mail.signed import signed_email
from ..signals import message_failed, message_sent, message_suppressed
from ..suppression import check as suppression
from . import rows
from .models import FINAL, Delivery, Status

logger = logging.getLogger("txmail.delivery")


def send_now(email: Any, alias: str, *, message_class: str = "",
             respect_suppression: bool = True, topic: str = "",
             secret_body: bool = False, critical: bool = False,
             log: bool = False) -> SentMessage:
    """Send ``email`` through ``alias`` now, logging it; raise a ``DeliveryError`` on failure.

    Suppressed recipients are dropped first (unless ``respect_suppression`` is
    False); if none is left nothing is sent and the result has no recipients.
    ``log``: write the row even if ``TXMAIL["LOG_SENDS"]`` is off (an
    idempotency key's duplicates return it).
    """
    row = None
    frozen = None
    recipients = list(email.recipients())
    check = respect_suppression and txmail_settings.SUPPRESSION
    suppressed = suppression.filter_recipients(email, topic, critical=critical) if check else {}
    if log or txmail_settings.LOG_SENDS:
        now = timezone.now()
        row = Delivery(
            message_class=message_class, mailer=alias, from_email=str(email.from_email),
            recipients=recipients, subject=str(email.subject),
            message_id=str(email.extra_headers.get("Message-ID", "")),
            status=Status.SENDING, attempts=1, max_attempts=1,
            claimed_at=now, handed_over_at=now, suppressed=suppressed,
            respect_suppression=respect_suppression, topic=topic, secret_body=secret_body,
            critical=critical,
        )
        if txmail_settings.KEEP_BODIES and not secret_body:
            frozen = freeze(email)  # signed once: the kept bytes are the ones sent
            row.raw = frozen[0]
        row.save(force_insert=True)
    if row is not None:
        esp.apply(email, {}, row.pk)  # the metadata names the row, for webhooks
        verp.apply(email, row.pk, row.recipients)  # and the return paths, for bounces
    if suppressed and not email.recipients():
        if row is not None:
            mark_suppressed(row, suppressed, email=email)
        else:
            notify(message_suppressed, alias, email=email, suppressed=suppressed, delivery=None)
        return SentMessage(
            message_id=str(email.extra_headers.get("Message-ID", "")), mailer=alias,
            recipients=[], email=email, delivery_id=row.pk if row else None,
            suppressed=suppressed)
    try:
        sent = replace(deliver(signed_email(email, frozen), alias), suppressed=suppressed)
    except DeliveryError as exc:
        status = Status.UNKNOWN if isinstance(exc, DeliveryOutcomeUnknown) else Status.FAILED
        if row is not None:
            mark_failed(row, exc, email=email, status=status)
        else:
            notify(message_failed, alias, email=email, error=exc, delivery=None, will_retry=False)
        raise
    if row is not None:
        mark_sent(row, sent, email=email)
        sent = replace(sent, delivery_id=row.pk)
    else:
        notify(message_sent, alias, email=email, result=sent, delivery=None)
    return sent


def notify(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send a delivery signal; a receiver's error is logged, never raised.

    The message's fate is already recorded: a failing receiver must not stop a
    worker's lane or hide the outcome from the caller.
    """
    for receiver, result in signal.send_robust(sender, **kwargs):
        if isinstance(result, Exception):
            logger.error("txmail: %r failed in %r", receiver, signal, exc_info=result)


def _ended(row: Delivery, fields: dict[str, Any], *, sent: bool) -> dict[str, Any]:
    """``fields`` for a row whose delivery ends now, its body dropped if it must go.

    A secret body goes whatever the outcome; another once sent, unless
    ``TXMAIL["KEEP_BODIES"]`` (then the sweep drops it after ``BODY_RETENTION``).
    """
    fields["updated_at"] = timezone.now()  # BODY_RETENTION counts from here
    if row.secret_body or (sent and not txmail_settings.KEEP_BODIES):
        fields["raw"] = None
    return fields


def _where(token: str | None) -> dict[str, str]:
    return {"claim_token": token} if token else {}


def _mine(row: Delivery, token: str | None) -> Any:
    rows = Delivery.objects.filter(pk=row.pk)
    return rows.filter(claim_token=token) if token else rows


def sent_fields(row: Delivery, sent: SentMessage) -> dict[str, Any]:
    """The columns a sent row's outcome sets (``raw=None``: its body goes)."""
    fields: dict[str, Any] = {
        "status": Status.SENT, "sent_at": timezone.now(), "sent_via": sent.sent_via or sent.mailer,
        "refused": {a: list(r) for a, r in sent.refused.items()},
        "provider_message_id": sent.provider_message_id or "", "last_error": "",
        "claim_token": "", "suppressed": sent.suppressed,
    }
    if sent.refused:
        fields["last_error"] = "Refused by the server: " + "; ".join(
            f"{a}: {c} {r}" for a, (c, r) in sent.refused.items())
    return _ended(row, fields, sent=True)


def announce_sent(row: Delivery, fields: dict[str, Any], sent: SentMessage,
                  email: Any = None) -> None:
    """Give ``row`` its outcome's ``fields`` and send ``message_sent``."""
    for name, value in fields.items():
        setattr(row, name, value)
    notify(message_sent, sent.mailer, email=email or sent.email, result=sent, delivery=row)


def mark_sent(row: Delivery, sent: SentMessage, *, token: str | None = None,
              email: Any = None, then: Callable[[], None] | None = None) -> bool:
    """Record the send; return False if the row's claim was taken back meanwhile.

    ``then()`` runs in the same transaction once the row is marked (the queue
    writes the row for recipients refused for now): both are written or neither,
    and if neither, the row stays claimed for the sweep.
    """
    fields = sent_fields(row, sent)
    if then is None:  # rows.update() writes the row and drops its body in one transaction
        if not rows.update(row.pk, _where(token), fields) and token:
            return False  # the sweep took the claim back meanwhile: the row says what it knows
    else:
        with transaction.atomic(using=router.db_for_write(Delivery)):
            if not rows.update(row.pk, _where(token), fields) and token:
                return False
            then()
    announce_sent(row, fields, sent, email)
    return True


def mark_suppressed(row: Delivery, suppressed: dict[str, str], *, email: Any,
                    token: str | None = None) -> None:
    """Every recipient is suppressed: record it, send nothing."""
    fields: dict[str, Any] = {
        "status": Status.SUPPRESSED, "suppressed": suppressed, "claim_token": "",
        "last_error": suppression.describe(suppressed),
    }
    _ended(row, fields, sent=True)  # as good as sent: nothing is left to send
    if not rows.update(row.pk, _where(token), fields) and token:
        return
    for name, value in fields.items():
        setattr(row, name, value)
    notify(message_suppressed, row.mailer, email=email, suppressed=suppressed, delivery=row)


def mark_failed(row: Delivery, error: BaseException, *, email: Any, status: str,
                token: str | None = None, next_attempt_at: Any = None,
                note: str = "") -> None:
    text = f"{type(error).__name__}: {error}"
    fields: dict[str, Any] = {
        "status": status, "last_error": f"{note}: {text}" if note else text,
        "claim_token": "",
    }
    if next_attempt_at is not None:
        fields["next_attempt_at"] = next_attempt_at
    if status in FINAL:
        _ended(row, fields, sent=False)
    refused = getattr(error, "refused", None)
    if refused:
        fields["refused"] = {a: list(r) for a, r in refused.items()}
    if not rows.update(row.pk, _where(token), fields) and token:
        return
    for name, value in fields.items():
        setattr(row, name, value)
    if isinstance(error, DeliveryError):
        notify(message_failed,
            error.alias or row.mailer, email=email, error=error, delivery=row,
            will_retry=status in (Status.RETRYING, Status.THROTTLED)
            and isinstance(error, TransientDeliveryError),
        )


def mark_waiting(row: Delivery, error: BaseException, *, next_attempt_at: Any,
                 token: str, status: str = Status.RETRYING,
                 note: str = "Waiting for a configuration fix", give_back: bool = True) -> bool:
    """Requeue a row that no mailer could take: its settings, or its rate limit (``status``
    ``throttled``).

    The attempt counted at the hand-over is given back (the message is not at
    fault; ``give_back=False``: none was counted) and no ``message_failed`` is
    sent; ``last_error`` says why it waits.
    Return False if the row's claim was taken back meanwhile.
    """
    fields: dict[str, Any] = {
        "status": status, "claim_token": "", "next_attempt_at": next_attempt_at,
        "last_error": f"{note}: {error}",
    }
    given = int(give_back)
    if not _mine(row, token).update(attempts=F("attempts") - given, **fields):
        return False
    for name, value in fields.items():
        setattr(row, name, value)
    row.attempts -= given
    return True


def record_cancelled(*, message_class: str, alias: str, from_email: str,
                     recipients: list[str], subject: str, message_id: str, reason: str,
                     queued: bool) -> Delivery | None:
    """Log a message that was cancelled before delivery (``txmail.signals.CancelSend``).

    ``enqueue()`` always gets a row (the queue's state); ``send()`` only when
    ``TXMAIL["LOG_SENDS"]``. Nothing is handed to a mailer or a task queue.
    """
    if not (queued or txmail_settings.LOG_SENDS):
        return None
    return Delivery.objects.create(
        message_class=message_class, mailer=alias, from_email=from_email,
        recipients=recipients, subject=subject, message_id=message_id,
        status=Status.CANCELLED, queued=queued, max_attempts=0,
        last_error=f"Cancelled: {reason}",
    )
