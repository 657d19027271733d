"""Each delivery's events, shown on its page in the admin (read-only)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ..delivery.admin import DeliveryAdmin
from .models import DeliveryEvent


class DeliveryEventInline(admin.TabularInline):
    model = DeliveryEvent
    extra = 0
    fields = ("timestamp", "event_type", "recipient", "description", "mta_response",
              "esp_name")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The delivery layer doesn't know about webhooks; they add themselves to its page.
DeliveryAdmin.inlines = [*DeliveryAdmin.inlines, DeliveryEventInline]
