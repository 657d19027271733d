"""Money formatting shared by the email templates and the PDF receipt."""

from decimal import Decimal

from django.utils.formats import number_format
from django.utils.translation import get_language

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def format_money(amount: Decimal, currency: str) -> str:
    """Return ``amount`` localized for the active language: "$1,234.50", "1 234,50 €".

    English puts the symbol first; the other languages of the project after.
    """
    number = number_format(amount, 2, use_l10n=True, force_grouping=True)
    symbol = SYMBOLS.get(currency, currency)
    if (get_language() or "en").startswith("en"):
        return f"{symbol}{number}"
    return f"{number}\u00a0{symbol}"
