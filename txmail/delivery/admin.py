"""The delivery log in Django's admin: filters, search, and the operator's actions."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import actions, health
from .models import Delivery


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "status", "message_class", "recipients_text", "subject",
                    "mailer", "sent_via", "attempts", "sent_at")
    list_filter = ("status", "message_class", "mailer", "queued")
    search_fields = ("recipients_text", "message_id", "provider_message_id", "subject")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    actions = ("retry_now", "cancel", "send_again")
    readonly_fields = [f.name for f in Delivery._meta.fields if f.name != "raw"]
    list_select_related = ("resent_from",)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        if request.method == "GET":  # an action's POST redirects here: warn once
            for stall in health.stalled():  # a queue no worker takes (delivery/health.py)
                messages.warning(request, str(stall))
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows are made by sending, never by hand

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # history is not edited; the actions make changes

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """The actions need the model's change permission (the form itself is read-only)."""
        return bool(request.user.has_perm("txmail.change_delivery"))

    @admin.action(permissions=["operate"], description=_("Retry the selected failed messages now"))
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = actions.retry_now(queryset)
        self.message_user(request, ngettext(
            "%d message queued for another attempt.",
            "%d messages queued for another attempt.", count) % count, messages.SUCCESS)
        gone = actions.without_body(queryset.filter(status__in=actions.RETRYABLE)).count()
        self._no_body(request, gone)
        skipped = queryset.count() - count - gone
        if skipped:
            self.message_user(request, ngettext(
                "%d message was not retried: only failed or retrying messages can be. "
                "Use 'Send again' for sent messages.",
                "%d messages were not retried: only failed or retrying messages can be. "
                "Use 'Send again' for sent messages.",
                skipped) % skipped, messages.WARNING)

    def _no_body(self, request: HttpRequest, count: int) -> None:
        if count:
            self.message_user(request, ngettext(
                "%(count)d message can't be sent again: %(why)s.",
                "%(count)d messages can't be sent again: %(why)s.",
                count) % {"count": count, "why": actions.NO_BODY}, messages.WARNING)

    @admin.action(permissions=["operate"], description=_("Cancel the selected queued messages"))
    def cancel(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = actions.cancel(queryset)
        self.message_user(request, ngettext(
            "%d message cancelled.", "%d messages cancelled.", count) % count,
            messages.SUCCESS)

    @admin.action(permissions=["operate"],
                  description=_("Send the selected messages again (as new deliveries)"))
    def send_again(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        copies = actions.send_again(queryset)
        self.message_user(request, ngettext(
            "%d new delivery queued.", "%d new deliveries queued.", len(copies)) % len(copies),
            messages.SUCCESS)
        gone = actions.without_body(queryset).count()
        self._no_body(request, gone)
        waiting = queryset.count() - len(copies) - gone
        if waiting:
            self.message_user(request, ngettext(
                "%d message was not sent again: it is still queued or being sent.",
                "%d messages were not sent again: they are still queued or being sent.",
                waiting) % waiting, messages.WARNING)
