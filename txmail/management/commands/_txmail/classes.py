"""``manage.py txmail list | render | send``: the registered message classes.

    manage.py txmail list                                   classes, mailer, template, state,
                                                            and the system checks' errors
    manage.py txmail render shop.Welcome --format text      a preview variant on stdout
    manage.py txmail render shop.Newsletter --variant french --format eml > fr.eml
    manage.py txmail send shop.OrderReceipt --to me@example.com

``render`` and ``send`` build the message from a preview variant (the class's
``preview`` or ``preview_<variant>`` classmethod), as the preview UI does:
inside a transaction that is rolled back, so nothing is written.
"""

import argparse
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from ....conf import txmail_settings
from ....exceptions import TxmailError
from ....message import Message
from ....outbox import send_test
from ....preview import previews
from ....registry import get_message_class, message_classes

FORMATS = ("html", "text", "eml")


def add_arguments(sub: Any) -> None:
    sub.add_parser("list", help="Registered message classes: mailer, template, compiled state.")
    render = sub.add_parser("render", help="Render one preview variant to stdout.")
    _variant_arguments(render)
    render.add_argument("--format", choices=FORMATS, default="html",
                        help="html (default), text, or eml (the whole MIME message).")
    send = sub.add_parser("send", help="Send one preview variant to an address "
                          "through its class's mailer.")
    _variant_arguments(send)
    send.add_argument("--to", required=True, metavar="ADDRESS",
                      help="The only recipient (the variant's To, Cc and Bcc are replaced).")


def _variant_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="A registered class: app_label.ClassName.")
    parser.add_argument("--variant", default=previews.DEFAULT_VARIANT,
                        help="The preview variant (default: %(default)s).")
    parser.add_argument("--language", metavar="CODE", help="Render in this language.")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="A preview parameter, as the preview UI's ?KEY=VALUE.")


# -- list -----------------------------------------------------------------------------


def do_list(command: BaseCommand, **options: Any) -> None:
    rows = [("NAME", "MAILER", "TEMPLATE", "STATE")]
    for name, cls in message_classes().items():
        mailer = cls.mailer or txmail_settings.DEFAULT_MAILER
        template, state = _template_state(cls)
        rows.append((name, mailer, template, state + _undefined_state(cls)))
    if len(rows) == 1:
        command.stdout.write("No message classes are registered: txmail finds them in "
                             "each installed app's emails.py.")
        rows = []
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        command.stdout.write("  ".join([*cells, row[3]]).rstrip())
    _list_check_problems(command)


def _list_check_problems(command: BaseCommand) -> None:
    """Show the system checks' errors: the commands that send refuse to run until fixed."""
    problems = [issue for issue in checks.run_checks()
                if issue.level >= checks.ERROR and not issue.is_silenced()]
    if not problems:
        return
    command.stdout.write("")
    one = len(problems) == 1
    command.stdout.write(command.style.ERROR(
        f"System check found {len(problems)} error{'' if one else 's'}: `txmail send`, "
        "`retry`, `cancel`, `sweep` and `campaign start` refuse to run until "
        f"{'it is' if one else 'they are'} fixed (`manage.py check` shows the same):"))
    for issue in problems:
        command.stdout.write(f"  {issue}")


def _template_state(cls: type[Message]) -> tuple[str, str]:
    """Return the template file and "compiled", "fallback: …" or "error: …"."""
    from ....rendering import find as tpl
    from ....rendering.compiled import get_compiled

    if not cls.template_name:
        return "(get_template_names())", "compiled on first use"
    try:
        found = tpl.find_templates(cls.__name__, [cls.template_name])
    except Exception as exc:  # a listing reports broken templates, it doesn't stop
        return cls.template_name, f"error: {exc}"
    template = f"{found.name}.{found.kind}" + (" + .txt" if found.text is not None else "")
    if not txmail_settings.PRECOMPILE:
        return template, "not precompiled (TXMAIL['PRECOMPILE'] is False)"
    try:
        compiled = get_compiled(cls.__name__, found)[0]
    except Exception as exc:
        return template, f"error: {exc}"
    if compiled.error:  # no message renders: not a slower path
        return template, f"error: {compiled.error}"
    reason = compiled.fallback_reason
    return template, "compiled" if reason is None else f"fallback: {reason}"


def _undefined_state(cls: type[Message]) -> str:
    """``"; undefined: {{ usr.name }} (preview 'default')"``, or "" (txmail.W060's finding)."""
    try:
        found = previews.undefined_in_previews(cls)
    except Exception:  # no database: previews can't be built; the rest still lists
        return ""
    return "".join(
        f"; undefined: {{{{ {u.variable} }}}} in {u.template} "
        f"(preview {', '.join(repr(v) for v in shown)})"
        for shown, u in found)


# -- render and send --------------------------------------------------------------------


def _preview(name: str, variant: str, language: str | None, param: list[str],
             **kwargs: Any) -> previews.Preview:
    try:
        cls = get_message_class(name)
    except LookupError as exc:
        raise CommandError(f"{exc} Run 'manage.py txmail list' to see them.") from None
    known = previews.variants(cls)
    if not known:
        raise CommandError(
            f"{name} has no preview variant: add a classmethod preview() (or "
            "preview_<variant>()) returning an instance built from sample data.")
    if variant not in known:
        raise CommandError(f"{name} has no preview variant {variant!r}; it has "
                           f"{', '.join(known)}. Pass one of them with --variant.")
    codes = [code for code, _name in settings.LANGUAGES]
    if language is not None and language not in codes:
        raise CommandError(f"Unknown language {language!r}; settings.LANGUAGES has "
                           f"{', '.join(codes)}. Pass one of them with --language.")
    query = {}
    for item in param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--param {item!r} is not KEY=VALUE, e.g. --param user=3.")
        query[key] = value
    try:
        return previews.make_preview(name, cls, variant, query, language, lint=False, **kwargs)
    except TxmailError as exc:
        raise CommandError(f"{name} ({variant}) can't be built: {exc}") from exc


def do_render(command: BaseCommand, *, format: str, **options: Any) -> None:
    preview = _preview(options["name"], options["variant"], options["language"],
                       options["param"])
    if format == "eml":
        buffer = getattr(command.stdout, "buffer", None)
        if buffer is not None:  # a real stdout: the exact bytes
            command.stdout.flush()
            buffer.write(preview.raw)
            buffer.flush()
            return
        command.stdout.write(preview.raw.decode("utf-8", "replace"), ending="")
        return
    part = preview.rendered.html if format == "html" else preview.rendered.text
    command.stdout.write(part, ending="" if part.endswith("\n") else "\n")


def do_send(command: BaseCommand, *, to: str, **options: Any) -> None:
    try:
        validate_email(to)
    except ValidationError:
        raise CommandError(f"{to!r} is not an email address; pass one address, "
                           "e.g. --to you@example.com.") from None

    name = options["name"]
    preview = _preview(name, options["variant"], options["language"], options["param"], to=to)
    try:
        # Built in the rolled-back transaction, sent after it: the delivery
        # log row stays.
        sent = send_test(preview.draft, to, rendered=preview.rendered)
    except TxmailError as exc:
        raise CommandError(f"Not sent: {exc}") from exc
    if sent.status == "suppressed":
        raise CommandError(f"Not sent: {to} is on the suppression list "
                           f"({', '.join(sent.suppressed.values())}).")
    command.stdout.write(f"Sent {name} ({preview.variant}) to {to} through mailer "
                         f"{preview.mailer!r} (Message-ID {sent.message_id}).")
