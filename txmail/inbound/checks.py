"""System checks: inbound mail's setup mistakes (txmail.E110-E113, txmail.W113).

Two mailboxes with one route (E110), a route outside ``TXMAIL["INBOUND"]["DOMAINS"]``
(E111), a message class's ``reply_mailbox`` without ``{token}`` (E112), and
inbound webhooks mounted without a secret (E113, W113 in DEBUG).
"""

from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core import checks

from ..exceptions import MessageConfigurationError
from ..mail.reply_address import route_of
from ..registry import message_classes
from . import configured
from .mailboxes import Route, mailboxes

SECRET_HINT = ('Set ANYMAIL = {"WEBHOOK_SECRET": "user:long-random-password"} and give the '
               "same credentials to the provider's inbound URL: "
               "https://user:long-random-password@your-host/<path>.")


@checks.register()
def check_routes(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Each route belongs to one mailbox, at a domain the listener accepts."""
    found: list[checks.CheckMessage] = []
    by_route: dict[str, list[str]] = defaultdict(list)
    for name, cls in mailboxes().items():
        by_route[Route(str(cls.route)).key].append(name)
    for names in by_route.values():
        if len(names) > 1:
            route = mailboxes()[names[0]].route
            found.append(checks.Error(
                f"The mailboxes {', '.join(names)} have the same route {route!r}: mail to it "
                f"goes to {names[0]} only.", hint="Give each mailbox a route of its own.",
                obj=names[1], id="txmail.E110"))
    allowed = configured.domains()
    if allowed:
        for name, cls in mailboxes().items():
            domain = Route(str(cls.route)).domain
            if domain is not None and domain not in allowed:
                found.append(checks.Error(
                    f"The mailbox {name}'s route {cls.route!r} is at {domain!r}, which "
                    "TXMAIL['INBOUND']['DOMAINS'] doesn't list: the listener refuses its mail "
                    "(550 relaying denied).",
                    hint=f"Add {domain!r} to TXMAIL['INBOUND']['DOMAINS'], or fix the route.",
                    obj=name, id="txmail.E111"))
    return found


@checks.register()
def check_reply_mailboxes(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A class's ``reply_mailbox`` is a mailbox whose route has ``{token}``."""
    found: list[checks.CheckMessage] = []
    for name, cls in message_classes().items():
        if cls.reply_mailbox is None:
            continue
        try:
            route_of(cls.reply_mailbox, cls.__name__)
        except MessageConfigurationError as exc:
            found.append(checks.Error(str(exc), obj=name, id="txmail.E112"))
    return found


@checks.register(checks.Tags.security, checks.Tags.urls)
def check_inbound_webhook_secret(app_configs: Any = None,
                                 **kwargs: Any) -> list[checks.CheckMessage]:
    """Inbound webhook views in ROOT_URLCONF need anymail's webhook secret."""
    try:
        from ..webhooks.checks import accepts_anyone, is_inbound, mounted_webhook_views
    except ImportError:
        return []  # django-anymail isn't installed: no such views
    routes = [f"/{route}" for route, view_class, initkwargs in mounted_webhook_views()
              if is_inbound(view_class) and accepts_anyone(view_class, initkwargs)]
    if not routes:
        return []
    level, check_id = ((checks.Warning, "txmail.W113") if settings.DEBUG
                       else (checks.Error, "txmail.E113"))
    shown = ", ".join(routes[:2]) + (f" and {len(routes) - 2} more" if len(routes) > 2 else "")
    return [level(
        f"Inbound mail webhooks are mounted at {shown} without a webhook secret: anyone "
        "could post a message your mailboxes would process as if its From address sent it "
        "(txmail's guard refuses them all until a secret is set).",
        hint=SECRET_HINT, obj="settings.ANYMAIL", id=check_id)]
