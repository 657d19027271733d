"""The delivery log: one row per message, sent by ``send()`` or ``enqueue()``.

For queued messages the row is also the queue's state (a transactional
outbox): it is written in the caller's transaction, claimed by a worker with a
conditional UPDATE, and its status says what happened.
"""

from typing import Any

from django.db import models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    QUEUED = "queued", _("queued")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    RETRYING = "retrying", _("retrying")
    FAILED = "failed", _("failed")
    # The connection was lost after the whole message was handed over: the
    # server may have accepted it. Not retried (a retry could duplicate it).
    UNKNOWN = "unknown", _("unknown")
    CANCELLED = "cancelled", _("cancelled")
    # Every recipient is on the suppression list (txmail.suppression): not sent.
    SUPPRESSED = "suppressed", _("suppressed")
    # Waiting for its send time (DeliveryOptions.send_at / delay): claimable once due.
    SCHEDULED = "scheduled", _("scheduled")
    # Not handed over by its deadline (DeliveryOptions.expires_at / expires_after): never
    # sent late.
    EXPIRED = "expired", _("expired")
    # Held back by its mailer's rate limit (TXMAIL["RATE_LIMITS"]) or a "slow down"
    # reply: claimable again once the limit allows.
    THROTTLED = "throttled", _("throttled")


# Statuses a worker may claim.
READY = (Status.QUEUED, Status.RETRYING, Status.SCHEDULED, Status.THROTTLED)
# Statuses that never change again (except by an admin's "send again", which
# makes a new row).
FINAL = (Status.SENT, Status.FAILED, Status.UNKNOWN, Status.CANCELLED, Status.SUPPRESSED,
         Status.EXPIRED)


class Delivery(models.Model):
    message_class = models.CharField(_("message class"), max_length=200, blank=True,
                                     db_index=True)
    mailer = models.CharField(_("mailer"), max_length=100, db_index=True)
    sent_via = models.CharField(_("sent via"), max_length=100, blank=True,
                                help_text=_("The alias that actually sent it."))
    from_email = models.CharField(_("from"), max_length=998)
    recipients = models.JSONField(_("recipients"), default=list)
    recipients_text = models.TextField(_("recipients (search)"), blank=True, editable=False)
    refused = models.JSONField(_("refused recipients"), default=dict, blank=True)
    # Recipients dropped because they are on the suppression list: {address: reason}.
    suppressed = models.JSONField(_("suppressed recipients"), default=dict, blank=True)
    # anymail's tags / metadata / esp_extra, kept for the send (delivery/esp.py).
    esp_options = models.JSONField(_("provider options"), default=dict, blank=True,
                                   editable=False)
    # The list a bulk message belongs to ("newsletter"): recipients who
    # unsubscribed from it are skipped (txmail.suppression, per topic).
    topic = models.CharField(_("topic"), max_length=100, blank=True)
    respect_suppression = models.BooleanField(
        _("respect the suppression list"), default=True,
        help_text=_("False when the message class opts out "
                    "(DeliveryOptions(respect_suppression=False))."))
    critical = models.BooleanField(
        _("critical"), default=False,
        help_text=_("Sent despite opt-outs, not despite bounces or complaints "
                    "(DeliveryOptions.critical)."))
    resend_if_unknown = models.BooleanField(
        _("resend if unknown"), default=False,
        help_text=_("Send the same bytes again when a worker died while the mailer had "
                    "them (the class's resend_if_unknown)."))
    secret_body = models.BooleanField(
        _("secret body"), default=False,
        help_text=_("The body holds a secret (DeliveryOptions.secret_body): it is dropped as "
                    "soon as the delivery ends, and the message can't be sent again."))
    subject = models.TextField(_("subject"), blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=998, db_index=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=255,
                                           blank=True, db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.QUEUED, db_index=True)
    queued = models.BooleanField(_("queued"), default=False,
                                 help_text=_("Sent through enqueue(), not send()."))
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    max_attempts = models.PositiveIntegerField(_("max attempts"), default=1)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True,
                                           db_index=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    # DeliveryOptions.send_at / delay / quiet_hours, and expires_at / expires_after
    # (txmail/delivery/deadline.py); send_check: Message.get_send_check()'s data.
    send_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True, db_index=True)
    send_check = models.JSONField(_("last check data"), null=True, blank=True, editable=False)
    # A worker's claim: who, since when, and whether the mailer had the message
    # when the worker stopped (then a stale claim ends as unknown, not retried).
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    handed_over_at = models.DateTimeField(null=True, blank=True, editable=False)
    task_backend = models.CharField(_("task backend"), max_length=100, blank=True)
    queue_name = models.CharField(_("queue"), max_length=100, blank=True)
    priority = models.IntegerField(_("priority"), default=0)
    # Set when no task could be handed to the queue for this row (the backend
    # can't defer a retry, or the hand-off failed): the sweep hands it off.
    needs_handoff = models.BooleanField(default=False, editable=False)
    # Calls deduplicated onto this delivery by their idempotency key
    # (DeliveryOptions.idempotency_key): each sent nothing.
    duplicates = models.PositiveIntegerField(_("deduplicated calls"), default=0,
                                             editable=False)
    resent_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="resends", verbose_name=_("sent again from"))

    # Not fields: the queue's per-batch suppression look-up (delivery/listed.py).
    may_be_suppressed = True
    suppression_version = -1

    class Meta:
        app_label = "txmail"
        ordering = ["-created_at", "-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="txmail_ready"),
        ]

    def __str__(self) -> str:
        return f"{self.message_class or 'email'} to {', '.join(self.recipients)} ({self.status})"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.recipients_text = " ".join(self.recipients).lower()
        if not self.__dict__.get("_raw_changed"):
            super().save(*args, **kwargs)
            return
        adding = self._state.adding
        with transaction.atomic(using=kwargs.get("using") or router.db_for_write(Delivery)):
            super().save(*args, **kwargs)
            raw = self.__dict__["_raw"]
            if raw is not None and adding:
                Body.objects.create(delivery=self, raw=raw)
            elif raw is not None:
                Body.objects.update_or_create(delivery=self, defaults={"raw": raw})
            elif not adding:
                Body.objects.filter(delivery=self).delete()
        self.__dict__.pop("_raw_changed")

    def refresh_from_db(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.__dict__.pop("_raw", None)
        self.__dict__.pop("_raw_changed", None)
        super().refresh_from_db(*args, **kwargs)

    # The frozen email (``Body``), read and written through the row as ``raw``.
    @property
    def raw(self) -> bytes | None:
        if "_raw" not in self.__dict__:
            raw = None
            if self.pk is not None:
                try:
                    raw = self.body.raw  # select_related("body") fills it with the row
                except Body.DoesNotExist:
                    pass
            self.__dict__["_raw"] = None if raw is None else bytes(raw)
        return self.__dict__["_raw"]

    @raw.setter
    def raw(self, value: bytes | None) -> None:
        self.__dict__["_raw"] = None if value is None else bytes(value)
        self.__dict__["_raw_changed"] = True

    # What a copy of the row keeps: the message and every option it is sent with.
    COPIED = ("message_class", "mailer", "from_email", "recipients", "subject", "message_id",
              "task_backend", "queue_name", "priority", "raw", "topic", "respect_suppression",
              "resend_if_unknown", "esp_options", "max_attempts", "secret_body",
              "critical")

    def copy(self, **changes: Any) -> "Delivery":
        """Return an unsaved queued row sending this row's message again (``changes`` apply)."""
        fields = {name: getattr(self, name) for name in self.COPIED}
        fields.update(status=Status.QUEUED, queued=True, next_attempt_at=timezone.now(),
                      resent_from=self)
        fields.update(changes)
        return Delivery(**fields)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL


class Body(models.Model):
    """A delivery's frozen email: the bytes its sends and retries put on the wire.

    Dropped once sent unless ``TXMAIL["KEEP_BODIES"]`` (bodies hold secrets such as
    reset links), once ended if ``secret_body``, and by the sweep
    ``TXMAIL["BODY_RETENTION"]`` seconds after the row ended (``recovery.py``).
    A table of its own, so the few bytes a worker writes per message (the claim,
    the hand-over stamp) don't make SQLite rewrite tens of kilobytes of body each
    time a row's size changes.
    """

    delivery = models.OneToOneField(Delivery, on_delete=models.CASCADE, primary_key=True,
                                    related_name="body", verbose_name=_("delivery"))
    raw = models.BinaryField(_("message bytes"))

    class Meta:
        app_label = "txmail"
        verbose_name = _("message body")
        verbose_name_plural = _("message bodies")

    def __str__(self) -> str:
        return f"body of delivery {self.delivery_id}"


def create_rows(rows: list[Delivery]) -> None:
    """``bulk_create()`` ``rows`` and their bodies (in the caller's transaction)."""
    Delivery.objects.bulk_create(rows)  # sets each row's pk (RETURNING)
    Body.objects.bulk_create([Body(delivery=row, raw=row.raw) for row in rows
                              if row.raw is not None])
    for row in rows:
        row.__dict__.pop("_raw_changed", None)


def delete_bodies(rows: "models.QuerySet[Delivery]") -> int:
    """Drop the bodies of ``rows``; return how many there were."""
    return Body.objects.filter(delivery__in=rows.values("pk")).delete()[0]


def drop_secret_bodies(rows: "models.QuerySet[Delivery]") -> int:
    """Drop the secret bodies (``DeliveryOptions.secret_body``) of the ended rows among ``rows``."""
    return delete_bodies(rows.filter(secret_body=True, status__in=FINAL))
