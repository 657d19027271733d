"""Template filters for the shop's emails."""

from django import template

from ..money import format_money

register = template.Library()


@register.filter
def money(amount, currency):
    """``{{ item.total|money:order.currency }}`` → "$49.00"."""
    return format_money(amount, currency)
