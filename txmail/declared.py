"""What a message class declares, checked: its options, its mailer, its hooks.

``Message`` calls these when a class is defined and when it resolves a
message; the system checks and the bulk layer reuse the mailer look-up. They
read the class, never render or send anything.
"""

import difflib
import inspect
import json
from collections.abc import Mapping
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

from django.core.mail import mailers

from .backends.transport import check_shape
from .conf import txmail_settings
from .draft import DeliveryOptions
from .exceptions import MessageConfigurationError, UnknownMailer

if TYPE_CHECKING:
    from .message import Message


def completed_options(cls: type["Message"], options: Any, where: str) -> DeliveryOptions:
    """``options`` checked, with the kind's default for ``resend_if_unknown``."""
    if not isinstance(options, DeliveryOptions):
        raise MessageConfigurationError(
            f"{where} must be a txmail.DeliveryOptions, not {options!r}: e.g. "
            "delivery_options = DeliveryOptions(queue_name='email').")
    if options.resend_if_unknown is None:
        options = replace(options, resend_if_unknown=cls.resend_if_unknown_default)
    return options


OPTION_NAMES = tuple(f.name for f in fields(DeliveryOptions))


def overridden(options: DeliveryOptions, given: Mapping[str, Any], owner: str
                ) -> DeliveryOptions:
    """``options`` with the fields given to ``send()`` / ``enqueue()`` replaced."""
    for name in given:
        if name not in OPTION_NAMES:
            close = difflib.get_close_matches(name, OPTION_NAMES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise MessageConfigurationError(
                f"{owner}: {name!r} is not a delivery option.{hint} send() and enqueue() "
                f"take the fields of txmail.DeliveryOptions: {', '.join(OPTION_NAMES)}.")
    return replace(options, **given)


def check_last_check(cls: type["Message"], base: type["Message"]) -> None:
    """Refuse a class with one half of the last check (``base``'s hooks: neither)."""
    hook = inspect.getattr_static(cls, "still_wanted")
    if not isinstance(hook, classmethod):
        raise MessageConfigurationError(
            f"{cls.__name__}.still_wanted must be a classmethod: the worker has the data "
            "get_send_check() stored, not the instance (@classmethod def still_wanted(cls, "
            "data)).")
    stores = cls.get_send_check is not base.get_send_check
    decides = hook.__func__ is not base.__dict__["still_wanted"].__func__
    if stores != decides:
        given, missing = (("get_send_check()", "still_wanted()") if stores
                          else ("still_wanted()", "get_send_check()"))
        raise MessageConfigurationError(
            f"{cls.__name__} defines {given} but not {missing}: the last check needs "
            "both (get_send_check() returns the data kept at enqueue(), still_wanted(cls, "
            "data) decides from it before the hand-over).")


def send_check_data(message: "Message", owner: str) -> Any:
    data = message.get_send_check()
    if data is not None:
        try:
            json.dumps(data)
        except (TypeError, ValueError) as exc:
            raise MessageConfigurationError(
                f"{owner}.get_send_check() must return JSON values, such as ids "
                f"({{'order': order.pk}}), not objects: {exc}.") from None
    return data


# Attributes and hooks of earlier releases, now read from ``delivery_options``:
# a class that still sets one would be silently ignored, so it is refused.
MOVED = {
    **{name: f"delivery_options = DeliveryOptions({name}=...)" for name in (
        "task_backend", "respect_suppression", "topic", "resend_if_unknown", "secret_body",
        "tags", "metadata", "esp_extra", "critical")},
    "task_queue_name": "delivery_options = DeliveryOptions(queue_name=...)",
    "task_priority": "delivery_options = DeliveryOptions(priority=...)",
    **{f"get_{name}": "get_delivery_options()" for name in (
        "task_backend", "task_queue_name", "task_priority", "respect_suppression", "topic",
        "resend_if_unknown", "secret_body", "tags", "metadata", "esp_extra")},
    "get_recipients": "get_to()",
}


def check_mailer(owner: str, alias: str | None) -> str:
    """Return ``alias`` (None: the default) if ``MAILERS`` has it in a usable shape.

    Else raise ``UnknownMailer`` naming what MAILERS has (and the closest), or
    ``MailerConfigurationError`` for a malformed entry, before anything is logged.
    """
    alias = alias or txmail_settings.DEFAULT_MAILER
    if alias not in mailers:
        configured = ", ".join(repr(a) for a in mailers) or "nothing"
        raise UnknownMailer(
            f"{owner}: mailer {alias!r} is not configured; settings.MAILERS has "
            f"{configured}. {closest_alias(alias)}Add {alias!r} to MAILERS or use one "
            "of those aliases."
        )
    check_shape(alias)
    return alias


def closest_alias(alias: str) -> str:
    """"Did you mean 'x'? " for the MAILERS alias closest to ``alias``, or ""."""
    close = difflib.get_close_matches(str(alias), [str(a) for a in mailers], n=1)
    return f"Did you mean {close[0]!r}? " if close else ""


def missing_template_name(owner: str) -> MessageConfigurationError:
    """The error for a class with neither ``template_name`` nor ``get_template_names()``."""
    return MessageConfigurationError(
        f"{owner} requires either a definition of 'template_name' or an "
        "implementation of 'get_template_names()'."
    )
