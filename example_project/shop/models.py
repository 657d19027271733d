"""A deliberately small shop: orders of a user, with their line items."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Profile(models.Model):
    """What the shop knows of a customer beyond the auth user: their language."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="profile")
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES,
                                default="en")

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self):
        return f"{self.user} ({self.language})"


class Order(models.Model):
    number = models.CharField(_("number"), max_length=20, unique=True)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders"
    )
    created_at = models.DateTimeField(_("created at"))
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    shipping = models.DecimalField(
        _("shipping"), max_digits=10, decimal_places=2, default=Decimal(0)
    )
    # Rate as a fraction (0.0825 for 8.25 %), applied to the subtotal.
    tax_rate = models.DecimalField(
        _("tax rate"), max_digits=5, decimal_places=4, default=Decimal(0)
    )
    shipping_address = models.TextField(_("shipping address"), blank=True)
    # Set by the customer or the admin before it ships: the shipped notice,
    # queued with a delay, checks it last (OrderShipped.still_wanted).
    cancelled = models.BooleanField(_("cancelled"), default=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")

    def __str__(self):
        return self.number


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(_("name"), max_length=200)
    sku = models.CharField(_("SKU"), max_length=40, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=10, decimal_places=2)

    class Meta:
        verbose_name = _("order item")
        verbose_name_plural = _("order items")

    def __str__(self):
        return f"{self.quantity} x {self.name}"

    @property
    def total(self):
        return self.unit_price * self.quantity


def order_totals(order, items):
    """Return subtotal, tax and total of ``order`` given its ``items``.

    Items are passed in, not read from ``order.items``, so unsaved sample
    orders (previews) work the same as saved ones.
    """
    cents = Decimal("0.01")
    subtotal = sum((item.total for item in items), Decimal(0))
    tax = (subtotal * order.tax_rate).quantize(cents)
    return {
        "subtotal": subtotal,
        "shipping": order.shipping,
        "tax": tax,
        "total": subtotal + order.shipping + tax,
    }
