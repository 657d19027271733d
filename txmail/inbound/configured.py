"""``TXMAIL["INBOUND"]`` read with its defaults.

    TXMAIL = {"INBOUND": {
        "DOMAINS": ["example.com"],   # the listener accepts mail for these only
        "MAX_SIZE": 10 * 1024 * 1024, # bytes; larger messages are refused (552)
        "MAX_ATTEMPTS": 5,            # process() tries before a message is failed
        "RETENTION": 30 * 86400,      # seconds an ended row is kept; None: for good
        "TASK_BACKEND": None,         # None: TXMAIL["TASK_BACKEND"]
        "QUEUE_NAME": "",
    }}
"""

from typing import Any

from ..addresses import canonical
from ..conf import txmail_settings

DEFAULTS: dict[str, Any] = {
    "DOMAINS": [],
    "MAX_SIZE": 10 * 1024 * 1024,
    "MAX_ATTEMPTS": 5,
    "RETENTION": 30 * 86400,
    "TASK_BACKEND": None,
    "QUEUE_NAME": "",
}


def setting(key: str) -> Any:
    """The value of ``TXMAIL["INBOUND"][key]``, or its default."""
    return {**DEFAULTS, **txmail_settings.INBOUND}[key]


def domains() -> set[str]:
    """The allowlisted domains, lower case, in their IDNA form."""
    return {canonical(f"x@{domain.strip()}").rpartition("@")[2] for domain in setting("DOMAINS")}


def task_backend() -> str:
    return str(setting("TASK_BACKEND") or txmail_settings.TASK_BACKEND)
