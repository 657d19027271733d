"""System check: ``TXMAIL["CLIENTS"]`` names an email client caniemail doesn't know (W080).

A Warning: the other clients are still checked; the misspelt one silently isn't.
"""

from typing import Any

from django.core import checks

from ..conf import txmail_settings
from ..exceptions import InvalidSetting
from ..quality.clients import resolve, unknown_message


@checks.register()
def check_clients(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report each name in ``TXMAIL["CLIENTS"]`` that is no known client."""
    try:
        names = tuple(txmail_settings.CLIENTS)
    except InvalidSetting:
        return []  # txmail.E003 reports the bad value
    return [checks.Warning(unknown_message(name), id="txmail.W080")
            for name in names if resolve(name) is None]
