"""``manage.py txmail lint``: the quality findings of every preview variant, for CI.

    manage.py txmail lint                              every registered class
    manage.py txmail lint shop.OrderReceipt Welcome    some classes (app_label. optional)
    manage.py txmail lint --client outlook-windows     judge for these clients only
    manage.py txmail lint --severity info              show info findings too
    manage.py txmail lint --no-spam                    skip SpamAssassin (about 1 s a variant)

It prints the findings per class and variant and exits with status 1 when any
is an error, whatever ``--severity`` shows. Each variant is built as the
preview builds it (rolled back); nothing is sent.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from .... import quality
from ....conf import txmail_settings
from ....message import Message
from ....preview import previews
from ....quality import Finding, Severity
from ....quality.clients import resolve, unknown_message
from ....registry import message_classes


def add_arguments(sub: Any) -> None:
    lint = sub.add_parser("lint", help="Quality findings of every preview variant; "
                          "exit status 1 on an error (for CI).")
    lint.add_argument("names", nargs="*", metavar="NAME",
                      help="Classes to lint: app_label.ClassName or ClassName (default: all).")
    lint.add_argument("--client", action="append", default=[], metavar="CLIENT",
                      help="Judge compatibility for this client only (repeat for more; "
                      "default: TXMAIL['CLIENTS']).")
    lint.add_argument("--severity", choices=[s.value for s in Severity], default="warning",
                      help="Show findings this severe or more (default: %(default)s).")
    lint.add_argument("--no-spam", action="store_true",
                      help="Don't score the messages with SpamAssassin (it takes about a "
                      "second a variant; the scores are kept while the content is the same).")


def _classes(names: list[str]) -> dict[str, type[Message]]:
    registered = message_classes()
    if not names:
        return dict(registered)
    chosen = {}
    for name in names:
        found = [full for full in registered if name in (full, full.rpartition(".")[2])]
        if len(found) != 1:
            problem = "is ambiguous" if found else "is not a registered class"
            raise CommandError(f"{name!r} {problem}: pass app_label.ClassName; "
                               "'manage.py txmail list' shows them.")
        chosen[found[0]] = registered[found[0]]
    return chosen


def _clients(names: list[str]) -> tuple[str, ...]:
    for name in names:
        if resolve(name) is None:
            raise CommandError(unknown_message(name).replace("TXMAIL['CLIENTS']", "--client"))
    return tuple(names) if names else tuple(txmail_settings.CLIENTS)


def do_lint(command: BaseCommand, *, names: list[str], client: list[str], severity: str,
            no_spam: bool = False, **options: Any) -> None:
    clients = _clients(client)
    skip = ("spam",) if no_spam else ()
    errors = shown = variants = 0
    for name, cls in _classes(names).items():
        known = previews.variants(cls)
        if not known:
            command.stdout.write(f"{name}: no preview variant to lint (add a preview() "
                                 "classmethod).")
        for variant in known:
            variants += 1
            found = previews.variant_findings(name, cls, variant, clients, skip=skip)
            if client:
                found = quality.for_clients(found, clients)
            errors += sum(f.severity == Severity.ERROR for f in found)
            listed = quality.at_least(found, severity)
            shown += len(listed)
            _write(command, f"{name} ({variant})", listed, len(found) - len(listed))
    summary = (f"{variants} variant{'s' if variants != 1 else ''}: {errors} "
               f"error{'s' if errors != 1 else ''}, {shown} finding{'s' if shown != 1 else ''} "
               f"at {severity} or worse, for {', '.join(clients) or 'no client'}.")
    if errors:
        raise CommandError(summary, returncode=1)
    command.stdout.write(summary)


def _write(command: BaseCommand, title: str, findings: list[Finding], hidden: int) -> None:
    said = f"{len(findings)} finding{'s' if len(findings) != 1 else ''}" if findings else "clean"
    more = f" ({hidden} less severe not shown)" if hidden else ""
    command.stdout.write(f"{title}: {said}{more}")
    for finding in findings:
        style = {Severity.ERROR: command.style.ERROR,
                 Severity.WARNING: command.style.WARNING}.get(finding.severity, str)
        where = f" [in {finding.where}]" if finding.where else ""
        command.stdout.write(f"  {style(finding.severity.value)} {finding.code}: "
                             f"{finding.message}{where}")
        if finding.hint:
            command.stdout.write(f"      {finding.hint}")
