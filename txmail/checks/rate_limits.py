"""System check of ``TXMAIL["RATE_LIMITS"]``'s aliases (txmail.E070).

The values are checked with every other setting (txmail.E003); this one checks
that each key is a ``MAILERS`` alias: a limit on a misspelt alias limits
nothing, and the real one sends at full speed.
"""

from typing import Any

from django.core import checks
from django.core.mail import mailers

from ..conf import txmail_settings
from ..declared import closest_alias
from ..exceptions import InvalidSetting


@checks.register(checks.Tags.compatibility)
def check_rate_limits(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every ``RATE_LIMITS`` key must be a ``MAILERS`` alias."""
    try:
        limits = txmail_settings.RATE_LIMITS
    except InvalidSetting:
        return []  # check_settings reports it (txmail.E003)
    configured = ", ".join(repr(a) for a in mailers) or "nothing"
    return [
        checks.Error(
            f"TXMAIL['RATE_LIMITS'] limits mailer {alias!r}, which settings.MAILERS does not "
            f"define (it has {configured}), so it limits nothing. {closest_alias(alias)}"
            "Use the alias the messages are sent through, or add it to MAILERS.",
            obj="settings.TXMAIL", id="txmail.E070")
        for alias in limits if alias not in mailers
    ]
