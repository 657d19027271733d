"""Interceptors: callables that see every built email before it is sent or queued.

    TXMAIL = {
        "INTERCEPTORS": ["txmail.interceptors.StagingRedirect"],
        "STAGING_REDIRECT": {"to": "staging-inbox@example.com", "allow": ["example.com"]},
    }

Each entry is the dotted path of a callable ``interceptor(email, message)`` that
returns the email to send (changed in place, or another one) or None to cancel
the message; a class is instantiated once, without arguments. They run in
order, after ``pre_send`` and building, for ``send()`` and ``enqueue()`` alike.
"""

import html
import re
from collections.abc import Callable, Iterable
from email.utils import getaddresses
from typing import Any

from django.core import checks
from django.core.mail.message import EmailAlternative
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .conf import txmail_settings
from .exceptions import CancelSend, InterceptorConfigurationError, InvalidAddress
from .mail.validation import check_address

Interceptor = Callable[[Any, Any], Any]

_loaded: list[tuple[str, Interceptor]] | None = None


def get_interceptors() -> list[tuple[str, Interceptor]]:
    """Return ``(dotted path, callable)`` for each of ``TXMAIL["INTERCEPTORS"]``."""
    global _loaded
    if _loaded is None:
        _loaded = [(path, _load(path)) for path in _paths()]
    return _loaded


@receiver(setting_changed)
def _forget(setting: str, **kwargs: Any) -> None:
    global _loaded
    if setting == "TXMAIL":
        _loaded = None


@checks.register(checks.Tags.compatibility)
def check_interceptors(**kwargs: Any) -> list[checks.CheckMessage]:
    """``manage.py check``: load ``TXMAIL["INTERCEPTORS"]`` now, not at the first send."""
    global _loaded
    _loaded = None  # the check reads the settings as they are now
    try:
        get_interceptors()
    except InterceptorConfigurationError as exc:
        return [checks.Error(str(exc), obj="settings.TXMAIL", id="txmail.E030")]
    return []


def _paths() -> list[str]:
    paths = txmail_settings.INTERCEPTORS
    if isinstance(paths, str) or not isinstance(paths, Iterable):
        raise InterceptorConfigurationError(
            f'TXMAIL["INTERCEPTORS"] must be a list of dotted paths, not {paths!r}. '
            f'Write it as a list: "INTERCEPTORS": [{paths!r}].'
        )
    return list(paths)


def _load(path: object) -> Interceptor:
    if not isinstance(path, str):
        raise InterceptorConfigurationError(
            f'TXMAIL["INTERCEPTORS"] lists {path!r}, which is not a dotted path. '
            'List each interceptor as a string such as "myproject.mail.redirect".'
        )
    try:
        found = import_string(path)
    except ImportError as exc:
        raise InterceptorConfigurationError(
            f'TXMAIL["INTERCEPTORS"] lists {path!r}, which could not be imported: {exc}. '
            "Fix the dotted path or remove it from the list."
        ) from exc
    interceptor = found() if isinstance(found, type) else found
    if not callable(interceptor):
        raise InterceptorConfigurationError(
            f'TXMAIL["INTERCEPTORS"] lists {path!r}, which is not callable. An '
            "interceptor is a function (or a class with __call__) taking (email, message)."
        )
    return interceptor  # type: ignore[no-any-return]


def run_interceptors(email: Any, message: Any) -> Any:
    """Return the email the interceptors let through; raise ``CancelSend`` if one returns None."""
    for path, interceptor in get_interceptors():
        result = interceptor(email, message)
        if result is None:
            raise CancelSend(f"The interceptor {path!r} cancelled it.")
        email = result
    return email


def _bare(address: str) -> str:
    return getaddresses([address])[0][1].lower()


_BODY = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


class StagingRedirect:
    """Send every message to one inbox instead, except recipients at allowed domains.

    Recipients at allowed domains (or allowed addresses) keep the message;
    everyone else is dropped from To, Cc and Bcc, and the staging inbox is
    added to To in their place: nobody real is reached. The original
    recipients are kept in ``X-Txmail-Original-To``/``-Cc``/``-Bcc`` headers and a
    note at the top of the HTML and text parts. A message whose recipients are
    all allowed goes out unchanged.
    """

    setting = 'TXMAIL["STAGING_REDIRECT"]'
    example = '{"to": "staging-inbox@example.com", "allow": ["example.com"]}'

    def __init__(self, to: str | None = None, allow: Iterable[str] | None = None) -> None:
        if to is None:
            config = txmail_settings.STAGING_REDIRECT
            if not isinstance(config, dict):
                raise InterceptorConfigurationError(
                    f"{self.setting} must be a dict such as {self.example}, not {config!r}. "
                    "Set it, or remove 'txmail.interceptors.StagingRedirect' from "
                    'TXMAIL["INTERCEPTORS"].'
                )
            unknown = sorted(set(config) - {"to", "allow"})
            if unknown:
                raise InterceptorConfigurationError(
                    f"{self.setting} has unknown keys {unknown!r}; it takes 'to' (the "
                    "staging inbox) and 'allow' (domains or addresses that still get mail)."
                )
            if "to" not in config:
                raise InterceptorConfigurationError(
                    f"{self.setting} needs 'to': the inbox every redirected message goes "
                    f"to, e.g. {self.example}."
                )
            to, allow = config["to"], config.get("allow", ())
        try:
            self.to = check_address(self.setting, "'to'", to)
        except InvalidAddress:
            raise InterceptorConfigurationError(
                f"{self.setting}['to'] must be one valid email address (the staging "
                f"inbox), not {to!r}; e.g. {self.example}."
            ) from None
        if isinstance(allow, str) or not isinstance(allow, Iterable):
            raise InterceptorConfigurationError(
                f"{self.setting}['allow'] must be a list of domains or addresses, not "
                f"{allow!r}. Write it as a list: \"allow\": [{allow!r}]."
            )
        self.allow = {str(entry).strip().lstrip("@").lower() for entry in allow}

    def allows(self, address: str) -> bool:
        """Whether ``address`` (or its domain) is allowed to receive mail."""
        bare = _bare(address)
        return bare in self.allow or bare.rpartition("@")[2] in self.allow

    def __call__(self, email: Any, message: Any = None) -> Any:
        original = {"To": list(email.to), "Cc": list(email.cc), "Bcc": list(email.bcc)}
        kept = {field: [a for a in addresses if self.allows(a)]
                for field, addresses in original.items()}
        if kept == original:
            return email  # every recipient is allowed: nothing to redirect
        to = kept["To"]
        if _bare(self.to) not in {_bare(a) for a in to}:
            to.append(self.to)
        email.to, email.cc, email.bcc = to, kept["Cc"], kept["Bcc"]
        lines = []
        for field, addresses in original.items():
            if addresses:
                email.extra_headers[f"X-Txmail-Original-{field}"] = ", ".join(addresses)
                lines.append(f"{field}: {', '.join(addresses)}")
        intro = "Staging: txmail redirected this message. Its original recipients were"
        email.body = f"[{intro}\n" + "\n".join(lines) + "]\n\n" + email.body
        email.alternatives = [
            EmailAlternative(self._note_html(content, intro, lines), mimetype)
            if mimetype == "text/html" else EmailAlternative(content, mimetype)
            for content, mimetype in email.alternatives
        ]
        return email

    @staticmethod
    def _note_html(document: str, intro: str, lines: list[str]) -> str:
        note = (
            '<div class="txmail-staging-note" style="background:#fff3cd;color:#664d03;'
            'border:1px solid #ffe69c;padding:8px 12px;font:13px/1.4 sans-serif;">'
            f"{html.escape(intro)}:<br>" + "<br>".join(html.escape(x) for x in lines)
            + "</div>"
        )
        body = _BODY.search(document)
        if body is None:
            return note + document
        return document[: body.end()] + note + document[body.end():]
