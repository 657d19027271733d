"""Each rate-limited mailer in Django's admin: its limit, next slot and hold-back."""

from typing import Any

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from ..conf import rate_limits
from .models import MailerRate


@admin.register(MailerRate)
class MailerRateAdmin(admin.ModelAdmin):
    list_display = ("alias", "limit", "next_slot", "blocked_until", "blocked_reason")
    readonly_fields = ("alias", "limit", "next_slot", "blocked_until", "blocked_reason")
    actions = ["lift_hold"]

    @admin.display(description=_("limit"))
    def limit(self, obj: MailerRate) -> str:
        found = rate_limits().get(obj.alias)
        if found is None:
            return "not in TXMAIL['RATE_LIMITS']"
        return found.text or "slow-down replies only"

    def has_add_permission(self, request: Any) -> bool:
        return False  # a row per alias is made by its first send

    @admin.action(description=_("Lift the hold-back after a slow-down reply"))
    def lift_hold(self, request: Any, queryset: Any) -> None:
        count = queryset.exclude(blocked_until=None).update(blocked_until=None,
                                                            blocked_reason="")
        self.message_user(request, f"{count} mailer(s) may send again at their rate.",
                          messages.SUCCESS)
