"""System check: preview variants whose templates output undefined variables (txmail.W060).

``{{ usr.first_name }}`` renders as nothing and the message goes out as
"Welcome, !". Each class's preview variants are resolved from their sample data
(rolled back, as the preview UI does) and their templates rendered a second
time with a marker for what doesn't exist (``txmail.rendering.variables``).

A Warning, not an Error: it judges sample data, which may lack what real data
has, and an Error would stop ``runserver`` and ``migrate`` over a preview.
Only in DEBUG, like E002: a preview may read the database.
"""

from typing import Any

from django.core import checks

from ..preview.previews import rolled_back, undefined_in_previews
from ..registry import message_classes


@checks.register(checks.Tags.templates)
def check_template_variables(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Report each variable a preview variant outputs that doesn't exist."""
    from django.conf import settings

    if not settings.DEBUG:
        return []
    try:
        with rolled_back():
            pass
    except Exception:
        return []  # no database yet (e.g. before the first migrate): previews need one
    found: list[checks.CheckMessage] = []
    for name, cls in message_classes().items():
        for shown, undefined in undefined_in_previews(cls):
            said = ", ".join(repr(v) for v in shown)
            found.append(checks.Warning(
                f"{name} (preview {said}): {undefined.message}",
                hint=f"{undefined.hint} Silence it with "
                "SILENCED_SYSTEM_CHECKS = ['txmail.W060'].",
                obj=cls, id="txmail.W060",
            ))
    return found
