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

from ..preview.lint import undefined_variables
from ..preview.previews import build_instance, rolled_back, variants
from ..registry import message_classes
from ..rendering import variables


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
        # (template, variable) → the variants that output it, and what is missing
        where: dict[tuple[str, str], tuple[list[str], variables.Undefined]] = {}
        for variant in variants(cls):
            for undefined in _undefined(cls, variant):
                key = (undefined.template, undefined.variable)
                where.setdefault(key, ([], undefined))[0].append(variant)
        for shown, undefined in where.values():
            said = ", ".join(repr(v) for v in shown)
            found.append(checks.Warning(
                f"{name} (preview {said}): {undefined.message}",
                hint=f"{undefined.hint} Silence it with "
                "SILENCED_SYSTEM_CHECKS = ['txmail.W060'].",
                obj=cls, id="txmail.W060",
            ))
    return found


def _undefined(cls: type, variant: str) -> list[variables.Undefined]:
    try:
        with rolled_back(), variables.lenient():
            instance, _kwargs = build_instance(cls, variant, {})
            return undefined_variables(instance, instance.resolve(sending=False))
    except Exception:  # a broken preview is the preview page's to report
        return []
