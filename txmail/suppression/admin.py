"""The suppression list in Django's admin: admins add and remove addresses."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .check import matching
from .erased import PREFIX
from .models import Suppression


class ErasedFilter(admin.SimpleListFilter):
    """Entries whose address was erased (``txmail.erase``): only its hash is kept."""

    title = _("erased")
    parameter_name = "erased"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes: a hash of the address")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Suppression]
                 ) -> QuerySet[Suppression]:
        if self.value() == "yes":
            return queryset.filter(address__startswith=PREFIX)
        if self.value() == "no":
            return queryset.exclude(address__startswith=PREFIX)
        return queryset


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("address", "topic", "reason", "description", "source", "created_at")
    list_filter = ("reason", "topic", "source", ErasedFilter)
    search_fields = ("address", "description")
    date_hierarchy = "created_at"
    readonly_fields = ("source", "delivery", "created_at")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Suppression],
                           search_term: str) -> tuple[QuerySet[Suppression], bool]:
        found, duplicates = super().get_search_results(request, queryset, search_term)
        if "@" in search_term:  # an erased address is found by its hash
            found |= queryset.filter(matching(search_term.strip()))
        return found, duplicates

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        if not change and not obj.source:
            obj.source = "admin"
        super().save_model(request, obj, form, change)
