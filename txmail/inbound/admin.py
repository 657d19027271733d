"""Inbound mail in the admin: the list, each message (raw and downloadable), "Process again".

A delivery's page lists the replies to it (``ReplyInline``); a reply's page links
its delivery.
"""

from functools import partial
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..delivery.admin import DeliveryAdmin, cell
from .models import InboundMessage, Status
from .process import hand_off

# Characters of the raw message shown on its page; the download has it all.
SHOWN = 100_000


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ("received_at", "status", "recipient_cell", "from_cell", "subject_cell",
                    "mailbox", "delivery")
    list_filter = ("status", "mailbox", "source")
    search_fields = ("envelope_recipient", "envelope_sender", "from_header", "subject",
                     "message_id")
    date_hierarchy = "received_at"
    actions = ("process_again",)
    list_select_related = ("delivery",)
    SUMMARY = ("status", "envelope_recipient", "envelope_sender", "from_header", "subject",
               "mailbox", "route_kwargs", "delivery", ("received_at", "processed_at",
                                                       "next_attempt_at"),
               "attempts", "error", "outcome")
    MESSAGE = ("message_id", "source", "size", "raw_message")
    fieldsets = ((_("Summary"), {"fields": SUMMARY}), (_("Message"), {"fields": MESSAGE}))
    readonly_fields = [f for group in (SUMMARY, MESSAGE) for f in group
                       if isinstance(f, str)] + ["received_at", "processed_at",
                                                 "next_attempt_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[InboundMessage]:
        queryset = super().get_queryset(request)
        # The list has no use for the bytes (up to MAX_SIZE each); a page reads them.
        return queryset if request.resolver_match and "object_id" in (
            request.resolver_match.kwargs) else queryset.defer("raw")

    @admin.display(description=_("to"), ordering="envelope_recipient")
    def recipient_cell(self, obj: InboundMessage) -> str:
        return cell(obj.envelope_recipient)

    @admin.display(description=_("from"), ordering="from_header")
    def from_cell(self, obj: InboundMessage) -> str:
        return cell(obj.from_header)

    @admin.display(description=_("subject"), ordering="subject")
    def subject_cell(self, obj: InboundMessage) -> str:
        return cell(obj.subject)

    @admin.display(description=_("raw message"))
    def raw_message(self, obj: InboundMessage) -> str:
        text = bytes(obj.raw).decode("utf-8", "replace")
        cut = len(text) > SHOWN
        url = reverse(f"{self.admin_site.name}:txmail_inboundmessage_raw", args=[obj.pk])
        return format_html(
            '<p><a href="{}" download>{}</a>{}</p><pre class="tx-raw">{}</pre>', url,
            _("Download (.eml)"), _(" (shown cut short)") if cut else "", text[:SHOWN])

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.raw_view)
        return [path("<path:object_id>/raw/", view, name="txmail_inboundmessage_raw"),
                *super().get_urls()]

    def raw_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The message's bytes as a download (never rendered: it is a stranger's content)."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such inbound message.")
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        response = HttpResponse(bytes(obj.raw), content_type="message/rfc822")
        response.headers["Content-Disposition"] = f'attachment; filename="inbound-{obj.pk}.eml"'
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows come in by mail

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # what came in is not edited; the action processes it again

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("txmail.change_inboundmessage"))

    @admin.action(permissions=["operate"], description=_("Process the selected messages again"))
    def process_again(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        ids = list(queryset.exclude(status=Status.PROCESSING).values_list("pk", flat=True))
        with transaction.atomic():
            InboundMessage.objects.filter(pk__in=ids).update(
                status=Status.RECEIVED, attempts=0, error="", outcome="", next_attempt_at=None)
            for inbound_id in ids:
                transaction.on_commit(partial(hand_off, inbound_id))
        self.message_user(request, ngettext(
            "%d message handed to a worker to be processed again.",
            "%d messages handed to a worker to be processed again.", len(ids)) % len(ids),
            messages.SUCCESS)
        busy = queryset.count() - len(ids)
        if busy:
            self.message_user(request, ngettext(
                "%d message is being processed now; it was left alone.",
                "%d messages are being processed now; they were left alone.", busy) % busy,
                messages.WARNING)


class ReplyInline(admin.TabularInline):
    model = InboundMessage
    fk_name = "delivery"
    verbose_name = _("reply")
    verbose_name_plural = _("replies")
    extra = 0
    fields = ("received_at", "from_header", "subject", "mailbox", "status")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[InboundMessage]:
        return super().get_queryset(request).defer("raw")


# The delivery layer doesn't know about inbound mail; its replies add themselves.
DeliveryAdmin.inlines = [*DeliveryAdmin.inlines, ReplyInline]
