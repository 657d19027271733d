"""``manage.py txmail``: see and act on the delivery queue from a shell.

    manage.py txmail status                 counts by status; a queue no worker takes
    manage.py txmail retry --failed         queue every failed message again (or: retry ID ...)
    manage.py txmail cancel ID ...          cancel queued or scheduled messages
    manage.py txmail reschedule ID ... WHEN send them at another time (ISO, +2h, now)
    manage.py txmail requeue-stuck          recover rows claimed by workers that died
    manage.py txmail sweep [--every 60]     what workers do in passing; run it from cron
                                            or as a loop beside the workers
    manage.py txmail prune [--dry-run]      delete ended rows past TXMAIL['RETENTION']
    manage.py txmail erase ADDRESS          remove an address everywhere, keep it suppressed
    manage.py txmail dkim                   the DNS record of each DKIM key (``_txmail/dkim.py``)

(``_txmail/deliveries.py``, ``_txmail/retention.py``, ``_txmail/reschedule.py``), for bulk campaigns
(``_txmail/campaigns.py``):

    manage.py txmail campaign start NAME [--follow]   send a bulk class to its recipients
    manage.py txmail campaign follow ID               a progress bar until it is done
    manage.py txmail campaign list | cancel ID

for inbound mail (``_txmail/receiving.py``):

    manage.py txmail inbound --recipient R --sender S   store the message on stdin
                                            (a Postfix pipe; exit codes per sysexits)
    manage.py txmail listen [--port 2525] [--lmtp]      an SMTP or LMTP server

and for the message classes (``_txmail/classes.py``):

    manage.py txmail list                   classes with mailer, template, compiled state
    manage.py txmail render NAME [--variant V] [--format html|text|eml] [--language fr]
    manage.py txmail send NAME [--variant V] --to ADDRESS
    manage.py txmail lint [NAME ...] [--client C] [--severity S] [--no-spam]   findings
                                            (``_txmail/lint.py``); status 1 on an error

The system checks run only before the subcommands that send or change rows:
``list``, ``render``, ``lint``, ``status`` and ``campaign list|follow`` diagnose a project
whose checks fail (``list`` shows the problems); ``inbound`` runs none (an
unrelated setup error must not bounce mail). Django's options
(``--skip-checks``, ``--settings``, ``-v``, ...) go before or after the subcommand.
"""

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ._txmail import campaigns, deliveries, dkim, lint, receiving, reschedule, retention
from ._txmail import classes as messages

# Read-only: they run while the system checks fail, to diagnose them.
DIAGNOSIS = {"list", "render", "lint", "status", "campaign list", "campaign follow", "dkim"}
# Mail is taken in while unrelated checks fail: refusing it would bounce it.
UNCHECKED = {*DIAGNOSIS, "inbound"}


def _everywhere(parser: argparse.ArgumentParser) -> None:
    """Accept Django's options (``--skip-checks``, ``--settings``, ...) after a subcommand too.

    argparse reads an option only where it's defined; a subcommand's absent
    option (``SUPPRESS``) leaves the command's value alone.
    """
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for subparser in action.choices.values():
            hidden = argparse.SUPPRESS
            subparser.add_argument("-v", "--verbosity", type=int, choices=[0, 1, 2, 3],
                                   default=hidden, help=hidden)
            for flag in ("--settings", "--pythonpath"):
                subparser.add_argument(flag, default=hidden, help=hidden)
            for flag in ("--traceback", "--no-color", "--force-color", "--skip-checks"):
                subparser.add_argument(flag, action="store_true", default=hidden, help=hidden)
            _everywhere(subparser)


class Command(BaseCommand):
    help = "List, render and send txmail's messages; see and act on the delivery queue."
    requires_system_checks: list[str] = []  # handle() runs them, for the subcommands that act

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        deliveries.add_arguments(sub)
        reschedule.add_arguments(sub)
        messages.add_arguments(sub)
        lint.add_arguments(sub)
        campaigns.add_arguments(sub)
        retention.add_arguments(sub)
        dkim.add_arguments(sub)
        receiving.add_arguments(sub)
        parser.add_argument("--skip-checks", action="store_true", help="Skip system checks.")
        _everywhere(parser)

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        name = " ".join(filter(None, [action, options.get("campaign_action")]))
        if name not in UNCHECKED and not options.get("skip_checks"):
            self.check()
        getattr(self, "do_" + action.replace("-", "_"))(**options)

    def do_list(self, **options: Any) -> None:
        messages.do_list(self, **options)

    def do_render(self, **options: Any) -> None:
        messages.do_render(self, **options)

    def do_send(self, **options: Any) -> None:
        messages.do_send(self, **options)

    def do_lint(self, **options: Any) -> None:
        lint.do_lint(self, **options)

    def do_campaign(self, **options: Any) -> None:
        campaigns.handle(self, **options)

    def do_status(self, **options: Any) -> None:
        deliveries.do_status(self, **options)

    def do_retry(self, **options: Any) -> None:
        deliveries.do_retry(self, **options)

    def do_cancel(self, **options: Any) -> None:
        deliveries.do_cancel(self, **options)

    def do_reschedule(self, **options: Any) -> None:
        reschedule.do_reschedule(self, **options)

    def do_requeue_stuck(self, **options: Any) -> None:
        deliveries.do_requeue_stuck(self, **options)

    def do_sweep(self, **options: Any) -> None:
        deliveries.do_sweep(self, **options)

    def do_prune(self, **options: Any) -> None:
        retention.do_prune(self, **options)

    def do_erase(self, **options: Any) -> None:
        retention.do_erase(self, **options)

    def do_dkim(self, **options: Any) -> None:
        dkim.do_dkim(self, **options)

    def do_inbound(self, **options: Any) -> None:
        receiving.do_inbound(self, **options)

    def do_listen(self, **options: Any) -> None:
        receiving.do_listen(self, **options)
