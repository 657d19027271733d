"""What a provider reported about a delivery after it accepted it."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    # anymail's normalized event types that say what became of a message.
    DELIVERED = "delivered", _("delivered")
    BOUNCED = "bounced", _("bounced")
    COMPLAINED = "complained", _("complained (spam)")
    DEFERRED = "deferred", _("deferred")
    REJECTED = "rejected", _("rejected by the provider")
    FAILED = "failed", _("failed")
    UNSUBSCRIBED = "unsubscribed", _("unsubscribed")


class DeliveryEvent(models.Model):
    delivery = models.ForeignKey("txmail.Delivery", on_delete=models.CASCADE,
                                 related_name="events", verbose_name=_("delivery"))
    event_type = models.CharField(_("event"), max_length=16, choices=EventType.choices,
                                  db_index=True)
    recipient = models.CharField(_("recipient"), max_length=254, blank=True)
    timestamp = models.DateTimeField(_("reported time"), null=True, blank=True)
    description = models.TextField(_("description"), blank=True)
    mta_response = models.TextField(_("server reply"), blank=True)
    esp_name = models.CharField(_("provider"), max_length=50)
    # The provider's id of the event: a webhook delivered twice is recorded once.
    event_id = models.CharField(_("event id"), max_length=255, blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        app_label = "txmail"
        ordering = ["timestamp", "id"]
        verbose_name = _("delivery event")
        verbose_name_plural = _("delivery events")
        constraints = [
            models.UniqueConstraint(
                fields=["esp_name", "event_id", "recipient"],
                condition=~models.Q(event_id=""), name="txmail_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_type_display()} {self.recipient}"
