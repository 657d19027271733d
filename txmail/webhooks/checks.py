"""System check: provider webhooks mounted without a webhook secret.

Imported by ``TxmailConfig.ready()`` only when django-anymail is installed.
"""

import warnings
from collections.abc import Iterator
from typing import Any

from anymail.signals import inbound
from anymail.webhooks.base import AnymailBaseWebhookView
from django.conf import settings
from django.core import checks
from django.urls import URLPattern, URLResolver, get_resolver

from .views import WebhookGuard, is_secured

HINT = ('Set ANYMAIL = {"WEBHOOK_SECRET": "user:long-random-password"} (or '
        "ANYMAIL_WEBHOOK_SECRET) and give the same credentials to the provider's webhook "
        "URL: https://user:long-random-password@your-host/<path>.")


def mounted_webhook_views(patterns: Any = None, prefix: str = "") -> Iterator[
        tuple[str, type, dict[str, Any]]]:
    """``(route, view class, initkwargs)`` of each anymail webhook view in the URLconf."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from mounted_webhook_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "view_class", None)
            if isinstance(view_class, type) and issubclass(view_class, AnymailBaseWebhookView):
                yield (prefix + str(pattern.pattern), view_class,
                       getattr(pattern.callback, "view_initkwargs", {}))


def is_inbound(view_class: type) -> bool:
    """Whether the view receives inbound mail (anymail's ``inbound`` signal)."""
    return getattr(view_class, "signal", None) is inbound


def accepts_anyone(view_class: type, initkwargs: dict[str, Any]) -> bool:
    """Whether anymail authenticates none of the view's requests, as configured."""
    # anymail reads its settings when a view is created, and warns there.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            view = view_class(**initkwargs)
        except Exception:
            return False  # misconfigured otherwise: anymail refuses every request itself
    return not is_secured(view)


@checks.register(checks.Tags.security, checks.Tags.urls)
def check_webhook_secret(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Webhook views in ROOT_URLCONF need a webhook secret (or a provider signature)."""
    # Inbound views have their own check, which says what a forged message does
    # (txmail.inbound.checks, E113).
    open_views = [(route, view_class) for route, view_class, initkwargs
                  in mounted_webhook_views() if not is_inbound(view_class)
                  and accepts_anyone(view_class, initkwargs)]
    open_views.sort(key=lambda found: "tracking" not in found[0])  # the ones named first
    if not open_views:
        return []
    unguarded = [route for route, view_class in open_views
                 if not issubclass(view_class, WebhookGuard)]
    if unguarded:
        problem = (f"Provider webhooks are mounted at {_some(unguarded)} without a webhook "
                   "secret: these are anymail's own views, which accept provider events "
                   "from anyone (a forged bounce suppresses an address for every message, "
                   "password resets included).")
    else:
        problem = (f"Provider webhooks are mounted at {_some([r for r, _ in open_views])} "
                   "without a webhook secret: txmail refuses every request to them until "
                   "one is set, so no bounce, complaint or delivery is recorded.")
    level, check_id = ((checks.Warning, "txmail.W040") if settings.DEBUG
                       else (checks.Error, "txmail.E040"))
    return [level(problem, hint=HINT, obj="settings.ANYMAIL", id=check_id)]


def _some(routes: list[str]) -> str:
    shown = ", ".join(f"/{r}" for r in routes[:2])
    return shown + (f" and {len(routes) - 2} more" if len(routes) > 2 else "")
