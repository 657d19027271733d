"""The delivery log's "Reschedule" admin action: a page asking when, then the move.

A mixin for ``DeliveryAdmin``: the action shows the selected messages and a
date-and-time field (the browser's picker, in the admin user's time zone);
submitting it moves the rows no worker has claimed (``actions.reschedule()``).
"""

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import actions
from .models import READY, Delivery


class RescheduleForm(forms.Form):
    when = forms.DateTimeField(
        label=_("Send at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The request's zone, in which the value is read (not the one at import).
        self.fields["when"].help_text = _("In the time zone %(zone)s.") % {
            "zone": timezone.get_current_timezone_name()}


class RescheduleMixin:
    """Adds the ``reschedule`` action (listed in the admin's ``actions``), and *Reschedule*
    and *Cancel* buttons on the page of a delivery no worker has claimed."""

    def render_change_form(self, request: HttpRequest, context: dict[str, Any],
                           add: bool = False, change: bool = False, form_url: str = "",
                           obj: Any = None) -> Any:
        model_admin: Any = self
        if obj is not None and obj.status in READY and model_admin.has_operate_permission(
                request):
            context.update(tx_schedulable=True, tx_row_actions=[
                ("reschedule", _("Reschedule")), ("cancel", _("Cancel"))])
        return super().render_change_form(  # type: ignore[misc]
            request, context, add, change, form_url, obj)

    @admin.action(permissions=["operate"],
                  description=_("Reschedule the selected queued or scheduled messages"))
    def reschedule(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> Any:
        model_admin: Any = self
        if "apply" in request.POST:
            form = RescheduleForm(request.POST)
            if form.is_valid():
                when = form.cleaned_data["when"]
                count = actions.reschedule(queryset, when)
                at = f"{timezone.localtime(when):%Y-%m-%d %H:%M %Z}"
                model_admin.message_user(request, ngettext(
                    "%(count)d message rescheduled for %(at)s.",
                    "%(count)d messages rescheduled for %(at)s.", count)
                    % {"count": count, "at": at}, messages.SUCCESS)
                left = queryset.count() - count
                if left:
                    model_admin.message_user(request, ngettext(
                        "%d message was not rescheduled: a worker is sending it, it has "
                        "ended, or its deadline comes first.",
                        "%d messages were not rescheduled: a worker is sending them, they "
                        "have ended, or their deadline comes first.", left) % left,
                        messages.WARNING)
                return None  # back to the list
        else:
            soon = timezone.localtime() + timedelta(hours=1)
            form = RescheduleForm(initial={"when": soon.replace(second=0, microsecond=0)})
        context = {
            **model_admin.admin_site.each_context(request),
            "title": _("Reschedule messages"),
            "opts": Delivery._meta,
            "form": form,
            "rows": queryset.defer("esp_options", "recipients_text")[:100],
            "selected": queryset.values_list("pk", flat=True),
            "movable": queryset.filter(status__in=READY).count(),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": model_admin.media,
        }
        return TemplateResponse(request, "admin/txmail/delivery/reschedule.html", context)
