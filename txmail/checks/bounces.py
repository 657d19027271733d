"""System checks of bounces by mail and DKIM (txmail.E120, E121, E122, E123, W121).

``TXMAIL["BOUNCES"]``: a return path template that makes addresses, a soft bounce
limit and window that are numbers. ``TXMAIL["DKIM"]``: dkimpy installed, every key loading,
none under 1024 bits (2048 recommended); each message says which DNS record to publish.
"""

from typing import Any

from django.core import checks

from ..bounces.apply import soft_bounce_limit, soft_bounce_window
from ..conf import txmail_settings
from ..exceptions import InvalidSetting
from ..mail import dkim, verp

BOUNCE_KEYS = ("RETURN_PATH", "SOFT_BOUNCE_LIMIT", "SOFT_BOUNCE_WINDOW")


def _error(message: str, id: str) -> checks.CheckMessage:
    return checks.Error(message, obj="settings.TXMAIL", id=id)


@checks.register(checks.Tags.compatibility)
def check_bounces(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``TXMAIL["BOUNCES"]``: a return path to send from, a limit and a window that are numbers."""
    try:
        configured = txmail_settings.BOUNCES
    except InvalidSetting:
        return []  # check_settings reports it (txmail.E003)
    if not configured:
        return []
    found = []
    for key in sorted(set(configured) - set(BOUNCE_KEYS), key=str):
        found.append(_error(f"TXMAIL['BOUNCES'] has an unknown key {key!r}. Its keys are "
                            "'RETURN_PATH', 'SOFT_BOUNCE_LIMIT' and 'SOFT_BOUNCE_WINDOW'.",
                            "txmail.E120"))
    if "RETURN_PATH" not in configured:
        found.append(_error(
            "TXMAIL['BOUNCES'] has no 'RETURN_PATH': messages go out from their From address, "
            "so no bounce comes back to txmail. Add 'RETURN_PATH': "
            f"{verp.EXAMPLE}, at a domain whose MX points at `manage.py txmail listen`.",
            "txmail.E120"))
    elif (problem := verp.template_problem(configured["RETURN_PATH"])) is not None:
        found.append(_error(f"TXMAIL['BOUNCES']['RETURN_PATH'] {problem}.", "txmail.E120"))
    for read in (soft_bounce_limit, soft_bounce_window):
        try:
            read()
        except InvalidSetting as exc:
            found.append(_error(str(exc), "txmail.E120"))
    return found


@checks.register(checks.Tags.compatibility)
def check_dkim(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every ``TXMAIL["DKIM"]`` key loads, and is long enough."""
    try:
        configured = txmail_settings.DKIM
    except InvalidSetting:
        return []  # txmail.E003
    if not configured:
        return []
    if not dkim.available():
        return [_error(f"TXMAIL['DKIM'] is set, but {dkim.INSTALL}. Until then messages "
                       "go out unsigned.", "txmail.E123")]
    found: list[checks.CheckMessage] = []
    for domain, entry in configured.items():
        try:
            key = dkim.load(str(domain), entry)
        except InvalidSetting as exc:
            found.append(_error(str(exc), "txmail.E121"))
            continue
        if key.bits < dkim.MINIMUM_BITS:
            found.append(_error(
                f"TXMAIL['DKIM'][{domain!r}]'s key has {key.bits} bits: receivers ignore "
                f"signatures made with fewer than {dkim.MINIMUM_BITS} (RFC 8301). Generate "
                "a 2048-bit key (openssl genrsa -out s1.pem 2048) and publish its record "
                "(`manage.py txmail dkim` prints it).", "txmail.E122"))
        elif key.bits < dkim.RECOMMENDED_BITS:
            found.append(checks.Warning(
                f"TXMAIL['DKIM'][{domain!r}]'s key has {key.bits} bits; "
                f"{dkim.RECOMMENDED_BITS} are recommended (RFC 8301). Generate a 2048-bit "
                "key under a new selector (openssl genrsa -out s2.pem 2048), publish its "
                "record (`manage.py txmail dkim` prints it), then sign with it. Until then, "
                f"publish this key's record in DNS: {key.record}",
                obj="settings.TXMAIL", id="txmail.W121"))
    return found
