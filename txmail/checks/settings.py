"""System checks of settings.TXMAIL (txmail.E003, E004)."""

from typing import Any

from django.core import checks

from ..conf import setting_problems


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every ``TXMAIL`` key must be known and its value of the right kind.

    The same schema raises ``InvalidSetting`` when a bad value is read, so the
    other checks skip what they can't read and leave the report to this one.
    """
    ids = {"invalid": "txmail.E003", "unknown": "txmail.E004"}
    return [
        checks.Error(message, id=ids[kind], obj="settings.TXMAIL")
        for kind, message, _key in setting_problems()
    ]
