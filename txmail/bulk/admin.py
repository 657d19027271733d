"""Campaigns in Django's admin: read-only pages with counts, rates, ETA and the mailer.

A campaign is started from code and changes only through its workers and the
cancel action, so its page is view-only: no Save buttons, and no Delete while
it runs (its rows are the exactly-once record of who was mailed).
"""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ..conf import txmail_settings
from ..delivery.models import Delivery
from ..message import Message
from ..registry import get_message_class
from .models import Campaign, CampaignStatus, Progress, format_eta


def class_mailer(message_class: str) -> str:
    """The mailer a campaign of ``message_class`` uses when send_bulk() got no ``using``."""
    try:
        cls = get_message_class(message_class)
    except LookupError:
        return f"unknown: {message_class!r} is no longer registered"
    if cls.get_mailer is not Message.get_mailer:
        return "chosen per recipient by the class's get_mailer()"
    if cls.mailer:
        return f"{cls.mailer} (the class's mailer)"
    return f"{txmail_settings.DEFAULT_MAILER} (TXMAIL['DEFAULT_MAILER'])"


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("__str__", "topic", "status", "total", "sent", "failed", "suppressed",
                    "in_progress", "overall_rate", "eta", "created_at")
    list_filter = ("status", "message_class", "topic")
    fieldsets = (
        (None, {"fields": ("message_class", "status", "mailer_used", "topic",
                           ("created_at", "finished_at"), "progress_summary",
                           "overall_rate", "live_rate", "eta")}),
        (_("Internals"), {"fields": ("kwargs", "model", "task_backend", "queue_name",
                                     "priority", "total", "chunk_size"),
                          "classes": ("collapse",)}),
    )
    readonly_fields = ("message_class", "topic", "kwargs", "model", "task_backend",
                       "queue_name", "priority", "status", "total", "chunk_size",
                       "created_at", "finished_at", "progress_summary", "mailer_used",
                       "overall_rate", "live_rate", "eta")
    actions = ["cancel_campaigns"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # started from code: Newsletter.send_bulk(queryset, ...)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a campaign is not edited; it is cancelled (the action)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status == CampaignStatus.RUNNING:
            return False  # cancel it first: its rows say who was already mailed
        return super().has_delete_permission(request, obj)

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Cancelling needs the model's change permission (the page itself is read-only)."""
        return bool(request.user.has_perm("txmail.change_campaign"))

    def _progress(self, obj: Campaign) -> Progress:
        # One computation per row and request (list_display asks six times).
        cache = obj.__dict__.setdefault("_txmail_progress", [])
        if not cache:
            cache.append(obj.progress())
        return cache[0]  # type: ignore[no-any-return]

    @admin.display(description=_("sent"))
    def sent(self, obj: Campaign) -> int:
        return self._progress(obj).sent

    @admin.display(description=_("failed"))
    def failed(self, obj: Campaign) -> int:
        return self._progress(obj).failed

    @admin.display(description=_("suppressed"))
    def suppressed(self, obj: Campaign) -> int:
        return self._progress(obj).suppressed

    @admin.display(description=_("in progress"))
    def in_progress(self, obj: Campaign) -> int:
        progress = self._progress(obj)
        return progress.in_progress + progress.pending

    @admin.display(description=_("overall rate"))
    def overall_rate(self, obj: Campaign) -> str:
        return f"{self._progress(obj).overall_rate:.1f}/s"

    @admin.display(description=_("rate in the last minute"))
    def live_rate(self, obj: Campaign) -> str:
        progress = self._progress(obj)
        return "-" if progress.done else f"{progress.rate:.1f}/s"

    @admin.display(description=_("ETA"))
    def eta(self, obj: Campaign) -> str:
        eta = self._progress(obj).eta
        return format_eta(eta) if eta is not None else "-"

    @admin.display(description=_("progress"))
    def progress_summary(self, obj: Campaign) -> str:
        return self._progress(obj).describe()

    @admin.display(description=_("mailer"))
    def mailer_used(self, obj: Campaign) -> str:
        chosen = (f"{obj.mailer} (send_bulk(using=...))" if obj.mailer
                  else class_mailer(obj.message_class))
        # What the messages went through (a failover mailer names its fallback).
        used = (Delivery.objects.filter(campaign_recipient__campaign=obj).exclude(sent_via="")
                .order_by().values_list("sent_via").annotate(n=Count("pk")))
        via = ", ".join(f"{alias}: {n}" for alias, n in sorted(used))
        return f"{chosen}; sent via {via}" if via else chosen

    @admin.action(description=_("Cancel: send nothing more"), permissions=["operate"])
    def cancel_campaigns(self, request: HttpRequest, queryset: Any) -> None:
        cancelled = sum(campaign.cancel() for campaign in queryset)
        self.message_user(request, f"{cancelled} messages cancelled.", messages.SUCCESS)
