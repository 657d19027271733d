"""The delivery log in Django's admin: a readable list, each message's page, the actions.

A row's page reads top down: a summary (status, recipients, subject, mailer,
times, attempts, the last error and what to do about it), the message itself
(its HTML in a sandboxed frame served by ``message_html`` under a strict CSP,
the text part, the headers), the provider's events (``txmail.webhooks`` adds
them), then the queue's internals, folded away.
"""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import actions, health, stored
from .admin_reschedule import RescheduleMixin
from .models import Delivery

# The message's HTML, opened in the admin's frame or on its own: no scripts, no
# plugins, no forms, nothing but its own styles and images (https or inlined).
MESSAGE_CSP = "; ".join([
    "sandbox allow-popups allow-popups-to-escape-sandbox",
    "default-src 'none'",
    "style-src 'unsafe-inline' https:",
    "img-src data: https:",
    "font-src data: https:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'self'",
])
# Characters of a long cell sent to the list; CSS cuts it to the column's width.
CELL_CHARS = 120


def cell(value: str) -> str:
    """One line of a list cell: cut short, the whole value in its tooltip."""
    return format_html('<span class="tx-cell" title="{}">{}</span>', value,
                       Truncator(value).chars(CELL_CHARS))


class DeliveryChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        # A page of rows without their message bytes (up to megabytes each).
        # Only the page: actions get the queryset whole (send again needs the bytes).
        self.queryset = self.queryset.defer("esp_options", "recipients_text")
        super().get_results(request)


class DeduplicatedFilter(admin.SimpleListFilter):
    """Deliveries that later calls with the same idempotency key were deduplicated onto."""

    title = _("deduplicated")
    parameter_name = "deduplicated"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes: later calls sent nothing")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "yes":
            return queryset.filter(duplicates__gt=0)
        if self.value() == "no":
            return queryset.filter(duplicates=0)
        return queryset


@admin.register(Delivery)
class DeliveryAdmin(RescheduleMixin, admin.ModelAdmin):
    # Few, narrow columns: the page stays one line a row beside the filters at
    # 1280 px (admin.css lays the table out fixed and cuts each cell short).
    list_display = ("created", "status_cell", "to", "subject_cell", "class_cell", "mailer_cell")
    list_display_links = ("created",)
    list_filter = ("status", "queued", DeduplicatedFilter, "mailer", "message_class")
    search_fields = ("recipients_text", "message_id", "provider_message_id", "subject")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    actions = ("retry_now", "cancel", "reschedule", "send_again")
    list_select_related = False  # the list shows no related row
    show_full_result_count = False  # no second COUNT over the whole log when filtering
    change_form_template = "admin/txmail/delivery/change_form.html"
    SUMMARY = ("status", "recipients_line", "subject", "from_email", "mailer_line", "message_class",
               ("created_at", "sent_at", "next_attempt_at"), ("send_at", "expires_at"),
               "attempts_line", "last_error_line")
    INTERNALS = ("message_id", "provider_message_id", "queued", "topic", "respect_suppression",
                 "critical", "resend_if_unknown", "secret_body", "task_backend", "queue_name",
                 "priority", "claim_token", "claimed_at", "handed_over_at", "needs_handoff",
                 "updated_at", "esp_options", "send_check", "resent_from", "duplicates")
    fieldsets = (
        (_("Summary"), {"fields": SUMMARY}),
        (_("Internals"), {"fields": INTERNALS, "classes": ("collapse", "tx-internals")}),
    )
    readonly_fields = [f for group in (SUMMARY, INTERNALS) for f in group
                       if isinstance(f, str)] + ["created_at", "sent_at", "next_attempt_at",
                                                 "send_at", "expires_at"]

    class Media:
        css = {"all": ("txmail/admin.css",)}

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return DeliveryChangeList

    # -- the list and the summary ---------------------------------------------

    @admin.display(description=_("created"), ordering="created_at")
    def created(self, obj: Delivery) -> str:
        when = timezone.localtime(obj.created_at)
        full = when.isoformat(sep=" ", timespec="seconds")
        return format_html('<span title="{}">{}</span>', full, when.strftime("%Y-%m-%d %H:%M"))

    @admin.display(description=_("status"), ordering="status")
    def status_cell(self, obj: Delivery) -> str:
        status = obj.get_status_display()
        return cell(f"{status} ({obj.attempts} attempts)" if obj.attempts > 1 else str(status))

    @admin.display(description=_("to"), ordering="recipients_text")
    def to(self, obj: Delivery) -> str:
        return cell(", ".join(obj.recipients))

    @admin.display(description=_("to"))
    def recipients_line(self, obj: Delivery) -> str:
        lines = [", ".join(obj.recipients)]
        lines += [f"refused: {address} ({' '.join(map(str, reply))})"
                  for address, reply in (obj.refused or {}).items()]
        lines += [f"suppressed: {address} ({why})"
                  for address, why in (obj.suppressed or {}).items()]
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))

    @admin.display(description=_("subject"), ordering="subject")
    def subject_cell(self, obj: Delivery) -> str:
        return cell(obj.subject)

    @admin.display(description=_("message class"), ordering="message_class")
    def class_cell(self, obj: Delivery) -> str:
        return cell(obj.message_class)

    @admin.display(description=_("mailer"), ordering="mailer")
    def mailer_cell(self, obj: Delivery) -> str:
        if obj.sent_via and obj.sent_via != obj.mailer:
            return cell(f"{obj.mailer} \u2192 {obj.sent_via}")
        return cell(obj.mailer)

    @admin.display(description=_("mailer"))
    def mailer_line(self, obj: Delivery) -> str:
        if obj.sent_via and obj.sent_via != obj.mailer:
            return f"{obj.mailer} (sent via {obj.sent_via})"
        return obj.mailer

    @admin.display(description=_("attempts"))
    def attempts_line(self, obj: Delivery) -> str:
        return f"{obj.attempts} of {obj.max_attempts}"

    @admin.display(description=_("last error"))
    def last_error_line(self, obj: Delivery) -> str:
        step = stored.next_step(obj)
        if not obj.last_error and not step:
            return "-"
        return format_html('<div class="tx-error">{}</div><div class="tx-fix">{}</div>',
                           obj.last_error or "", step)

    # -- the message ---------------------------------------------------------

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], add: bool = False,
                           change: bool = False, form_url: str = "", obj: Any = None) -> Any:
        if obj is not None:
            context.update(self.message_context(obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def message_context(self, obj: Delivery) -> dict[str, Any]:
        """The page's message section: the stored parts, or why there are none."""
        if obj.raw is None:
            return {"tx_message": None, "tx_no_body": stored.why_no_body(obj)}
        message = stored.read(bytes(obj.raw))
        html_url = reverse(f"{self.admin_site.name}:txmail_delivery_html", args=[obj.pk])
        return {"tx_message": message, "tx_html_url": html_url}

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.message_html)
        return [path("<path:object_id>/html/", view, name="txmail_delivery_html"),
                *super().get_urls()]

    def message_html(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Serve a row's stored HTML part alone, sandboxed by its CSP."""
        return _sandboxed(self._message_html(request, object_id))

    def _message_html(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such delivery.")
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        html = stored.read(bytes(obj.raw)).html if obj.raw is not None else None
        if html is None:
            raise Http404(stored.why_no_body(obj) if obj.raw is None else "No HTML part.")
        return HttpResponse(html, content_type="text/html; charset=utf-8")

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

    @admin.action(permissions=["operate"],
                  description=_("Cancel the selected queued or scheduled messages"))
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



def _sandboxed(response: HttpResponse) -> HttpResponse:
    response.headers["Content-Security-Policy"] = MESSAGE_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"  # the admin's own frame only
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    add_never_cache_headers(response)
    return response
