"""One row per suppressed address."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..addresses import canonical


class Reason(models.TextChoices):
    BOUNCED = "bounced", _("hard bounce")
    COMPLAINED = "complained", _("spam complaint")
    UNSUBSCRIBED = "unsubscribed", _("unsubscribed")
    MANUAL = "manual", _("added by hand")


class Suppression(models.Model):
    # Stored in one form (lowercased, IDNA domain: txmail.addresses): an
    # address is suppressed in any spelling, Unicode domain or punycode.
    address = models.CharField(_("address"), max_length=254)
    # Blank: no message goes to the address. A topic ("newsletter"): only
    # messages of that topic skip it (an unsubscribe from one list).
    topic = models.CharField(_("topic"), max_length=100, blank=True, db_index=True,
                             help_text=_("Blank for every message, else only this topic's."))
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices,
                              default=Reason.MANUAL, db_index=True)
    description = models.TextField(_("description"), blank=True,
                                   help_text=_("What the provider said, or why it was added."))
    source = models.CharField(_("source"), max_length=100, blank=True,
                              help_text=_("The provider whose webhook reported it, or admin."))
    delivery = models.ForeignKey("txmail.Delivery", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+",
                                 verbose_name=_("delivery"))
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        app_label = "txmail"
        ordering = ["-created_at", "-id"]
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppression list")
        constraints = [models.UniqueConstraint(fields=["address", "topic"],
                                               name="txmail_suppression_unique")]

    def __str__(self) -> str:
        topic = f", {self.topic}" if self.topic else ""
        return f"{self.address} ({self.get_reason_display()}{topic})"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.address = canonical(self.address)
        super().save(*args, **kwargs)
