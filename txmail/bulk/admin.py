"""Campaigns in Django's admin: counts, rate and ETA, and a cancel action."""

from typing import Any

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from .models import Campaign


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("__str__", "topic", "status", "total", "sent", "failed", "suppressed",
                    "in_progress", "rate", "eta", "created_at")
    list_filter = ("status", "message_class", "topic")
    readonly_fields = ("message_class", "topic", "kwargs", "model", "mailer", "task_backend",
                       "queue_name", "priority", "status", "total", "chunk_size",
                       "created_at", "finished_at", "progress_summary")
    exclude = ("query",)
    actions = ["cancel_campaigns"]

    def has_add_permission(self, request: Any) -> bool:
        return False  # started from code: Newsletter.send_bulk(queryset, ...)

    def _progress(self, obj: Campaign) -> Any:
        # One computation per row and request (list_display asks five times).
        cache = obj.__dict__.setdefault("_txmail_progress", [])
        if not cache:
            cache.append(obj.progress())
        return cache[0]

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

    @admin.display(description=_("rate"))
    def rate(self, obj: Campaign) -> str:
        return f"{self._progress(obj).rate:.1f}/s"

    @admin.display(description=_("ETA"))
    def eta(self, obj: Campaign) -> str:
        from .progress import format_eta

        eta = self._progress(obj).eta
        return format_eta(eta) if eta is not None else "-"

    @admin.display(description=_("progress"))
    def progress_summary(self, obj: Campaign) -> str:
        return self._progress(obj).describe()

    @admin.action(description=_("Cancel: send nothing more"), permissions=["change"])
    def cancel_campaigns(self, request: Any, queryset: Any) -> None:
        cancelled = sum(campaign.cancel() for campaign in queryset)
        self.message_user(request, f"{cancelled} messages cancelled.", messages.SUCCESS)
