"""System checks of ``TXMAIL["RETENTION"]``'s names: statuses (E090), classes (W090).

``conf.py`` checks the value's shape and seconds (txmail.E003); this module
knows the statuses and the registry.
"""

import difflib
from typing import Any

from django.core import checks

from ..conf import txmail_settings
from ..delivery.models import FINAL, Status
from ..exceptions import InvalidSetting
from ..registry import message_classes


def _close(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"Did you mean {close[0]!r}? " if close else ""


@checks.register()
def check_retention(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Each status of ``RETENTION["statuses"]`` must end a row; each class should exist."""
    try:
        configured = txmail_settings.RETENTION
    except InvalidSetting:
        return []  # check_settings reports it (txmail.E003)
    final = [str(s) for s in FINAL]
    found: list[checks.CheckMessage] = []
    for status in configured.get("statuses", {}):
        where = f"TXMAIL['RETENTION']['statuses'][{status!r}]"
        if status in final:
            continue
        if status in Status.values:
            why = (f"{status!r} rows haven't ended (they are waiting to be sent or being sent) "
                   "and are never pruned. Remove it; statuses that end a row: ")
        else:
            why = (f"{status!r} isn't a delivery status. {_close(status, final)}"
                   "Statuses that end a row: ")
        found.append(checks.Error(f"{where}: {why}{', '.join(final)}.",
                                  obj="settings.TXMAIL", id="txmail.E090"))
    known = list(message_classes())
    for name in configured.get("classes", {}):
        if name in known:
            continue
        found.append(checks.Warning(
            f"TXMAIL['RETENTION']['classes'][{name!r}] names no registered message class, so "
            f"it applies to no row. {_close(name, known)}Use a registry name "
            "('<app_label>.<ClassName>', as `manage.py txmail list` shows them). For the old "
            "rows of a class you removed, keep it and add txmail.W090 to "
            "SILENCED_SYSTEM_CHECKS.",
            obj="settings.TXMAIL", id="txmail.W090"))
    return found
