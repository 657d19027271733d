"""``InboundMessage``: one row per message and envelope recipient that came in.

The row is stored by an ingress (the SMTP/LMTP listener, ``manage.py txmail
inbound``, a provider's inbound webhook) and processed by a task worker
(``txmail.inbound.process``); its status says how far it got.
"""

import email.policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import cached_property
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    # Stored, waiting for a worker.
    RECEIVED = "received", _("received")
    # A worker has it now.
    PROCESSING = "processing", _("processing")
    # process() (or the return path) raised; tried again at next_attempt_at.
    RETRYING = "retrying", _("retrying")
    # Handled: by a mailbox's process(), or as a bounce report (txmail.bounces).
    PROCESSED = "processed", _("processed")
    # Still raising after its last attempt: see error. The admin's action tries again.
    FAILED = "failed", _("failed")
    # Refused: no mailbox routes its recipient, or process() raised Bounce("why").
    BOUNCED = "bounced", _("bounced back")


READY = (Status.RECEIVED, Status.RETRYING)
ENDED = (Status.PROCESSED, Status.FAILED, Status.BOUNCED)


class InboundMessage(models.Model):
    source = models.CharField(_("came in by"), max_length=100, blank=True,
                              help_text=_("smtp, lmtp, stdin, or the provider's name."))
    envelope_sender = models.CharField(_("envelope sender"), max_length=998, blank=True)
    envelope_recipient = models.CharField(_("envelope recipient"), max_length=998,
                                          db_index=True)
    message_id = models.CharField(_("Message-ID"), max_length=998, blank=True, db_index=True)
    subject = models.TextField(_("subject"), blank=True)
    from_header = models.TextField(_("from"), blank=True)
    raw = models.BinaryField(_("message bytes"), editable=False)
    size = models.PositiveIntegerField(_("size"), default=0)
    mailbox = models.CharField(_("mailbox"), max_length=200, blank=True, db_index=True)
    # What the route's placeholders captured ({"token": ...}).
    route_kwargs = models.JSONField(_("route arguments"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.RECEIVED, db_index=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)
    outcome = models.TextField(_("outcome"), blank=True,
                               help_text=_("What handling it did (a bounce report's summary)."))
    delivery = models.ForeignKey(
        "txmail.Delivery", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="replies", verbose_name=_("in reply to"),
        help_text=_("The delivery this is a reply to (by In-Reply-To, References or a "
                    "signed reply address)."))
    received_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        app_label = "txmail"
        ordering = ["-received_at", "-id"]
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        indexes = [models.Index(fields=["status", "updated_at"], name="txmail_inbound_ended")]

    def __str__(self) -> str:
        return f"{self.subject or '(no subject)'} to {self.envelope_recipient} ({self.status})"

    @cached_property
    def email(self) -> EmailMessage:
        """The message parsed (``email.policy.default``): headers, parts, attachments."""
        parsed: Any = BytesParser(policy=email.policy.default).parsebytes(bytes(self.raw))
        return parsed

    @property
    def text(self) -> str:
        """The plain-text body ('' when there is none)."""
        part = self.email.get_body(preferencelist=("plain",))
        return str(part.get_content()) if part is not None else ""

    @property
    def html(self) -> str:
        """The HTML body ('' when there is none)."""
        part = self.email.get_body(preferencelist=("html",))
        return str(part.get_content()) if part is not None else ""

    @property
    def is_ended(self) -> bool:
        return self.status in ENDED
