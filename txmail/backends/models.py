"""``MailerRate``: one row per rate-limited mailer alias, shared by every worker."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class MailerRate(models.Model):
    """An alias's next free send slot and how long a "slow down" reply holds it back.

    ``next_slot`` is the generic cell rate algorithm's theoretical arrival time:
    a send may go once the clock reaches it (less the burst's tolerance), and
    moves it one interval on (``txmail.backends.ratelimit``).
    """

    alias = models.CharField(_("mailer"), max_length=100, primary_key=True)
    next_slot = models.DateTimeField(_("next free slot"))
    blocked_until = models.DateTimeField(_("held back until"), null=True, blank=True)
    blocked_reason = models.TextField(_("why it is held back"), blank=True)

    class Meta:
        app_label = "txmail"
        verbose_name = _("mailer rate")
        verbose_name_plural = _("mailer rates")

    def __str__(self) -> str:
        return self.alias
