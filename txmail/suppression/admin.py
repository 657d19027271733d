"""The suppression list in Django's admin: admins add and remove addresses."""

from django.contrib import admin

from .models import Suppression


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("address", "topic", "reason", "description", "source", "created_at")
    list_filter = ("reason", "topic", "source")
    search_fields = ("address", "description")
    date_hierarchy = "created_at"
    readonly_fields = ("source", "delivery", "created_at")

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        if not change and not obj.source:
            obj.source = "admin"
        super().save_model(request, obj, form, change)
