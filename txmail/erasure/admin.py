"""The admin's "Erase these addresses everywhere" action, on deliveries and on the list.

It asks first: a page lists the selected rows' addresses (a delivery's
recipients; a suppression entry's address) with what erasing each removes,
and erases the ticked ones on "Yes". It needs the permission to delete the
rows it is run from.
"""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from ..addresses import canonical
from ..delivery.admin import DeliveryAdmin
from ..delivery.models import Delivery
from ..exceptions import TxmailError
from ..suppression.admin import SuppressionAdmin
from ..suppression.erased import is_hash
from ..suppression.models import Suppression
from .erase import describe, describe_left, erase

COUNTED = 20  # addresses the confirmation page counts the rows of


def addresses_of(queryset: QuerySet[Any]) -> list[str]:
    """The addresses the selected deliveries are to, or the selected entries list."""
    found: dict[str, None] = {}
    if queryset.model is Delivery:
        for recipients in queryset.values_list("recipients", flat=True):
            found.update(dict.fromkeys(canonical(r) for r in recipients))
    elif queryset.model is Suppression:
        found.update(dict.fromkeys(queryset.values_list("address", flat=True)))
    return [a for a in found if not is_hash(a) and "@" in a]


@admin.action(permissions=["delete"], description=_("Erase these addresses everywhere"))
def erase_everywhere(modeladmin: admin.ModelAdmin, request: HttpRequest,
                     queryset: QuerySet[Any]) -> TemplateResponse | None:
    addresses = addresses_of(queryset)
    if request.POST.get("post") == "yes":
        chosen = [a for a in request.POST.getlist("address") if a in addresses]
        for address in chosen:
            try:
                counts = erase(address)
            except TxmailError as exc:
                modeladmin.message_user(request, str(exc), messages.ERROR)
                continue
            if counts["left"]:
                modeladmin.message_user(request, f"{address}: {describe_left(counts['left'])}",
                                        messages.ERROR)
                continue
            modeladmin.message_user(
                request, f"{address} erased: {', '.join(describe(counts))}.", messages.SUCCESS)
        if not chosen:
            modeladmin.message_user(request, _("No address was ticked: nothing was erased."),
                                    messages.WARNING)
        return None
    # Each count reads every table: the page counts the first few addresses only.
    found = [(a, describe(erase(a, dry_run=True)) if i < COUNTED else [_("not counted")])
             for i, a in enumerate(addresses)]
    opts = modeladmin.model._meta
    context = {**modeladmin.admin_site.each_context(request), "title": _("Erase addresses"),
               "opts": opts, "found": found, "queryset": queryset,
               "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME}
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/txmail/erase_confirmation.html", context)


# Neither the delivery log nor the list knows about erasure; it adds itself to both.
DeliveryAdmin.actions = (*DeliveryAdmin.actions, erase_everywhere)  # type: ignore[assignment]
SuppressionAdmin.actions = (*(SuppressionAdmin.actions or ()),  # type: ignore[misc]
                            erase_everywhere)
