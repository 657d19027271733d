"""System checks of settings.TXMAIL (E003 E004 W070), task backends (E007), the base URL (E050)."""

import difflib
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks

from ..conf import setting_problems, txmail_settings
from ..exceptions import InvalidSetting
from ..registry import message_classes


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


@checks.register()
def check_base_url_for_bulk(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Bulk classes need a base URL that doesn't come from a request.

    Their unsubscribe link is absolute, and campaigns are sent from task
    workers, where there is no request to take a host from. (Plain classes may
    need one too, for {% absurl %} in a template, but may also be sent with a
    request, as the password reset is: only a send can tell.)
    """
    from ..bulk.bulk_message import BulkMessage

    try:
        if txmail_settings.SITE_URL is not None:
            return []
    except InvalidSetting:
        return []  # check_settings reports it
    if apps.is_installed("django.contrib.sites"):
        return []  # the current Site's domain; checked when it is read
    bulk = [name for name, cls in message_classes().items()
            if issubclass(cls, BulkMessage)
            and cls.get_unsubscribe_url is BulkMessage.get_unsubscribe_url]
    if not bulk:
        return []
    return [checks.Error(
        f"{', '.join(bulk)} {'needs' if len(bulk) == 1 else 'need'} an absolute "
        "unsubscribe URL, and txmail has no base URL to build it from: "
        "TXMAIL['SITE_URL'] is None and django.contrib.sites is not installed. Set "
        "TXMAIL['SITE_URL'] to the site's scheme and host, e.g. "
        "'https://shop.example.com'.",
        obj="settings.TXMAIL", id="txmail.E050",
    )]


@checks.register()
def check_task_backends(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``TXMAIL['TASK_BACKEND']`` and each class's ``task_backend`` must be TASKS aliases."""
    from django.tasks import DEFAULT_TASK_BACKEND_ALIAS

    configured = getattr(settings, "TASKS", None)
    aliases = list(configured) if isinstance(configured, dict) else [
        DEFAULT_TASK_BACKEND_ALIAS]
    try:
        default = txmail_settings.TASK_BACKEND
    except InvalidSetting:
        return []  # check_settings reports it
    named: list[tuple[str, Any, Any]] = [("TXMAIL['TASK_BACKEND']", default, "settings.TXMAIL")]
    named += [(f"{name}.delivery_options.task_backend", cls.delivery_options.task_backend, cls)
              for name, cls in message_classes().items()
              if getattr(cls.delivery_options, "task_backend", None)]
    have = ", ".join(repr(a) for a in aliases) or "nothing"
    found: list[checks.CheckMessage] = []
    for where, alias, obj in named:
        if alias in aliases:
            continue
        close = difflib.get_close_matches(str(alias), [str(a) for a in aliases], n=1)
        fix = f"Did you mean {close[0]!r}? " if close else ""
        found.append(checks.Error(
            f"{where} is {alias!r}, which settings.TASKS does not define (it has {have}): "
            f"enqueue() fails. {fix}Use one of those aliases, or add it to TASKS.",
            obj=obj, id="txmail.E007"))
    return found


@checks.register()
def check_topics(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A ``TXMAIL['TOPICS']`` key close to a class's topic but not it is a typo.

    Other keys no class names are fine: a ``get_delivery_options()`` may choose
    its topic at send time, and the preference centre lists them all.
    """
    try:
        configured = txmail_settings.TOPICS
    except InvalidSetting:
        return []  # check_settings reports it
    used = sorted({cls.delivery_options.topic for cls in message_classes().values()
                   if cls.delivery_options.topic})
    found: list[checks.CheckMessage] = []
    for topic in configured:
        if topic in used:
            continue
        close = difflib.get_close_matches(topic, used, n=1)
        if close:
            found.append(checks.Warning(
                f"TXMAIL['TOPICS'] has {topic!r}, which no registered class's delivery_options "
                f"names: did you mean {close[0]!r}? The preference centre would list both, "
                f"and {close[0]!r} without its label. Rename the key.",
                obj="settings.TXMAIL", id="txmail.W070"))
    return found
