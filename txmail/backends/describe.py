"""Say in words what a ``MAILERS`` alias sends through, for the preview.

"failover over ses (Amazon SES, django-anymail), backup (SMTP 127.0.0.1:25)":
read from the settings only; nothing is connected.
"""

from typing import Any

from django.conf import settings
from django.core.mail.handler import DEFAULT_MAILER_BACKEND
from django.utils.module_loading import import_string

from .failover import EmailBackend as FailoverBackend
from .roundrobin import EmailBackend as RoundRobinBackend


def describe_mailer(alias: str, _seen: frozenset[str] = frozenset()) -> str:
    """Return what ``alias`` sends through: the provider, or the aliases it spreads over."""
    config = getattr(settings, "MAILERS", {}).get(alias)
    if config is None:
        return "not in MAILERS"
    if alias in _seen:
        return "loops back to itself"
    path = config.get("BACKEND", DEFAULT_MAILER_BACKEND)
    options: dict[str, Any] = config.get("OPTIONS", {})
    try:
        backend = import_string(path)
    except ImportError:
        return f"{path} (cannot be imported)"
    if isinstance(backend, type) and issubclass(backend, FailoverBackend):
        kind = "round-robin" if issubclass(backend, RoundRobinBackend) else "failover"
        inner = ", ".join(f"{a} ({describe_mailer(a, _seen | {alias})})"
                          for a in options.get("mailers", ()))
        return f"{kind} over {inner}"
    esp_name = getattr(backend, "esp_name", None)
    if esp_name:
        return f"{esp_name}, django-anymail"
    if path.endswith(".smtp.EmailBackend"):
        return f"SMTP {options.get('host', 'localhost')}:{options.get('port', 25)}"
    return path
