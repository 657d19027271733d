from django.contrib import admin

from .models import Order, OrderItem, Profile


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "customer", "created_at", "currency", "cancelled"]
    list_filter = ["cancelled"]
    search_fields = ["number", "customer__email"]
    inlines = [OrderItemInline]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "language"]
    list_filter = ["language"]
    search_fields = ["user__email", "user__username"]
