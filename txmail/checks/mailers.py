"""System checks of settings.MAILERS (txmail.E001, E020-E029).

Django builds a mailer only when something is sent through it (each
``mailers[alias]`` is a new instance), so a mistake in MAILERS passes
``manage.py check`` and then fails every queued message, for good. These
checks read each alias's BACKEND and OPTIONS, build it once (constructors only
store their options: nothing connects), and follow failover and round-robin
lists, whose loops no single build shows.
"""

import difflib
import inspect
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import checks, mail
from django.core.mail import InvalidMailer, mailers
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as DjangoSMTPBackend
from django.core.mail.handler import DEFAULT_MAILER_BACKEND
from django.utils.module_loading import import_string

from ..backends.failover import EmailBackend as FailoverBackend
from ..backends.failover import cooldown_problem, mailers_problem, self_reference
from ..backends.transport import shape_problem
from ..conf import txmail_settings
from ..declared import closest_alias
from ..exceptions import InvalidSetting
from ..registry import message_classes

# The closest is offered for a BACKEND that doesn't import (a typo).
KNOWN_BACKENDS = [
    "django.core.mail.backends.smtp.EmailBackend",
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "txmail.backends.smtp.EmailBackend",
    "txmail.backends.failover.EmailBackend",
    "txmail.backends.roundrobin.EmailBackend",
    "txmail.backends.sendgrid.EmailBackend",
    "txmail.backends.mailbox.MailboxBackend",
]
# Constructor arguments that are not OPTIONS (Django passes ``alias`` itself).
_NOT_OPTIONS = {"self", "alias", "_ignore_unknown_kwargs"}
_DEPRECATED_OPTIONS = {"fail_silently"}  # accepted by Django 6.1 with a warning; not offered
# Backends whose every constructor is known to take its options by name.
_OWN_MODULES = ("txmail.", "django.core.mail.")

Report = Callable[[str, str], checks.CheckMessage]


@checks.register(checks.Tags.compatibility)
def check_mailer_aliases(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every registered class's ``mailer`` must be a MAILERS alias."""
    errors: list[checks.CheckMessage] = []
    try:
        default = txmail_settings.DEFAULT_MAILER
    except InvalidSetting:
        return errors  # check_settings reports it
    configured = ", ".join(repr(a) for a in mailers) or "nothing"
    txmail = getattr(settings, "TXMAIL", {})
    if "DEFAULT_MAILER" in txmail and default not in mailers:
        errors.append(checks.Error(
            f"TXMAIL['DEFAULT_MAILER'] is {default!r}, which settings.MAILERS does not "
            f"define (it has {configured}). {closest_alias(default)}Set it to one of "
            "those aliases, or add it to MAILERS.",
            obj="settings.TXMAIL", id="txmail.E001"))
    for name, cls in message_classes().items():
        alias = cls.mailer or default
        if alias not in mailers and (cls.mailer or not errors):
            errors.append(
                checks.Error(
                    f"{name} sends through mailer {alias!r}, which settings.MAILERS "
                    f"does not define (it has {configured}). {closest_alias(alias)}".rstrip(),
                    hint=f"Add {alias!r} to MAILERS or set {name}.mailer to one of "
                    "the configured aliases.",
                    obj=cls,
                    id="txmail.E001",
                )
            )
    return errors


@checks.register(checks.Tags.mail)
def check_mailers(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every MAILERS alias must build; failover and round-robin lists must end in senders."""
    configured = getattr(settings, "MAILERS", {})
    if not isinstance(configured, dict):
        return [checks.Error(
            f"settings.MAILERS must be a dict of aliases, not {type(configured).__name__}: "
            "e.g. MAILERS = {'default': {'BACKEND': '...', 'OPTIONS': {...}}}.",
            obj="settings.MAILERS", id="txmail.E029")]
    errors: list[checks.CheckMessage] = []
    spreads: dict[str, list[str]] = {}  # failover/round-robin alias -> the aliases it tries
    for alias, config in configured.items():
        def report(message: str, id: str, alias: str = alias) -> checks.CheckMessage:
            return checks.Error(f"MAILERS[{alias!r}]: {message}",
                                obj=f"settings.MAILERS[{alias!r}]", id=id)

        found = _config_problems(alias, config, configured, spreads, report)
        # An alias already reported isn't built: its build would fail the same way.
        errors += found or _build_problems(alias, report)
    return errors + _loops(spreads)


def _config_problems(alias: str, config: Any, configured: dict[str, Any],
                     spreads: dict[str, list[str]], report: Report) -> list[checks.CheckMessage]:
    """Return what is wrong in ``config`` (MAILERS[alias]) as it is written."""
    if problem := shape_problem(config):
        return [report(f"{problem}.", "txmail.E029")]
    path = config.get("BACKEND", DEFAULT_MAILER_BACKEND)
    options: dict[str, Any] = config.get("OPTIONS", {})
    try:
        backend = import_string(path)
    except Exception as exc:  # ImportError, or whatever the module raises on import
        close = difflib.get_close_matches(str(path), KNOWN_BACKENDS, n=1, cutoff=0.8)
        fix = (f"Did you mean {close[0]!r}?" if close else
               "Fix the dotted path, or install the package that provides it.")
        return [report(f"BACKEND {path!r} cannot be imported ({type(exc).__name__}: {exc}). "
                       f"{fix}", "txmail.E020")]
    found = []
    accepted = _accepted_options(backend)
    if accepted is not None:
        found += [report(_unknown_option(key, path, accepted), "txmail.E021")
                  for key in options if key not in accepted]
    if isinstance(backend, type) and issubclass(backend, DjangoSMTPBackend):
        host = options.get("host")
        if not isinstance(host, str) or not host.strip():
            found.append(report(_host_problem(options), "txmail.E028"))
    if isinstance(backend, type) and issubclass(backend, FailoverBackend):
        found += _spread_problems(alias, options, configured, spreads, report)
    return found


def _accepted_options(backend: Any) -> set[str] | None:
    """Return the OPTIONS ``backend`` takes, or None when its signature can't tell.

    Read from the constructors down the MRO to ``BaseEmailBackend``, which
    rejects the rest (Django 6.1). Another package's constructor may take
    ``**kwargs`` and pick its options out of them (anymail's do): then None,
    and the build reports what it rejects (txmail.E029).
    """
    if not isinstance(backend, type) or not issubclass(backend, BaseEmailBackend):
        return None
    accepted: set[str] = set()
    for cls in backend.__mro__:
        if "__init__" not in vars(cls):
            continue
        if cls is not BaseEmailBackend and not cls.__module__.startswith(_OWN_MODULES):
            return None
        parameters = inspect.signature(vars(cls)["__init__"]).parameters.values()
        accepted |= {p.name for p in parameters
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if cls is BaseEmailBackend or all(p.kind != p.VAR_KEYWORD for p in parameters):
            return accepted - _NOT_OPTIONS
    return None


def _unknown_option(key: Any, path: str, accepted: set[str]) -> str:
    offered = sorted(accepted - _DEPRECATED_OPTIONS)
    close = difflib.get_close_matches(str(key), offered, n=1)
    fix = f"Did you mean {close[0]!r}?" if close else "Remove it."
    return (f"OPTIONS has an unknown key {key!r}, which {path} does not take. {fix} "
            f"It takes: {', '.join(repr(k) for k in offered) or 'no OPTIONS'}.")


def _host_problem(options: dict[str, Any]) -> str:
    # Django 6.1's SMTP backend reads EMAIL_HOST (default 'localhost') only when
    # built without MAILERS; built from MAILERS it has no default host, raises
    # for a missing one, and takes an empty one, with which smtplib never
    # connects ("please run connect() first" on every send).
    example = "e.g. {'host': 'smtp.example.com', 'port': 587, 'use_tls': True}"
    if "host" not in options:
        return (f"the SMTP backend needs OPTIONS 'host' (MAILERS has no default host: "
                f"EMAIL_HOST is not read), {example}.")
    return f"OPTIONS 'host' must name the SMTP server, {example}, not {options['host']!r}."


def _spread_problems(alias: str, options: dict[str, Any], configured: dict[str, Any],
                     spreads: dict[str, list[str]], report: Report
                     ) -> list[checks.CheckMessage]:
    """Return the problems of a failover or round-robin mailer's OPTIONS."""
    found = []
    listed = options.get("mailers", ())
    if problem := mailers_problem(listed):
        found.append(report(problem, "txmail.E022"))
    else:
        if alias in listed:
            found.append(report(self_reference(alias), "txmail.E023"))
        have = ", ".join(repr(a) for a in configured)
        for name in listed:
            if name not in configured:
                close = difflib.get_close_matches(name, list(configured), n=1)
                fix = f"Did you mean {close[0]!r}? Fix the name" if close else "Fix the name"
                found.append(report(
                    f"OPTIONS 'mailers' names {name!r}, which MAILERS does not define (it "
                    f"has {have}). {fix}, or add {name!r} to MAILERS.", "txmail.E024"))
        spreads[alias] = [a for a in listed if a in configured and a != alias]
    if problem := cooldown_problem(options.get("cooldown", 60)):
        found.append(report(problem, "txmail.E026"))
    cache = options.get("cache", "default")
    caches = getattr(settings, "CACHES", {})
    if not isinstance(cache, str) or cache not in caches:
        found.append(report(
            f"OPTIONS 'cache' names {cache!r}, which CACHES does not define (it has "
            f"{', '.join(repr(c) for c in caches)}): a failed mailer's cooldown couldn't be "
            "stored. Use one of those aliases, or add it to CACHES.", "txmail.E027"))
    return found


def _build_problems(alias: str, report: Report) -> list[checks.CheckMessage]:
    """Build MAILERS[alias] once, as a send would, and report what it raises."""
    had_outbox = hasattr(mail, "outbox")
    try:
        mailers[alias]
    except InvalidMailer as exc:  # "MAILERS['x']: ...", with the fix
        return [checks.Error(str(exc), obj=f"settings.MAILERS[{alias!r}]", id="txmail.E029")]
    except Exception as exc:  # a check reports; it must not stop startup
        return [report(f"building it raises {type(exc).__name__}: {exc}. Fix its BACKEND or "
                       "OPTIONS: every message sent through it fails until then.",
                       "txmail.E029")]
    finally:
        # Django's locmem backend creates mail.outbox when built; a check leaves
        # none behind (it tells the test environment apart: production.deployed()).
        if not had_outbox and hasattr(mail, "outbox"):
            del mail.outbox
    return []


def _loops(spreads: dict[str, list[str]]) -> list[checks.CheckMessage]:
    """Report each loop of failover/round-robin aliases (one naming itself is E023)."""
    found: list[checks.CheckMessage] = []
    state: dict[str, str] = {}  # "open" while on the current path, then "done"
    order = list(spreads)

    def visit(alias: str, path: list[str]) -> None:
        state[alias] = "open"
        for name in spreads.get(alias, ()):
            if state.get(name) == "open":
                loop = path[path.index(name):]
                first = min(range(len(loop)), key=lambda i: order.index(loop[i]))
                found.append(_loop_error(loop[first:] + loop[:first]))
            elif name not in state:
                visit(name, [*path, name])
        state[alias] = "done"

    for alias in order:
        if alias not in state:
            visit(alias, [alias])
    return found


def _loop_error(loop: list[str]) -> checks.CheckMessage:
    shown = " → ".join(repr(a) for a in [*loop, loop[0]])
    return checks.Error(
        f"MAILERS {shown} loop: each falls over to the next, so a message sent through "
        f"{loop[0]!r} could go round instead of reaching a mailer that sends. Remove "
        f"{loop[0]!r} from MAILERS[{loop[-1]!r}]['OPTIONS']['mailers'], so that every "
        "list ends at mailers that send (SMTP or a provider).",
        obj=f"settings.MAILERS[{loop[0]!r}]", id="txmail.E025",
    )
