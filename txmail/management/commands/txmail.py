"""``manage.py txmail``: see and act on the delivery queue from a shell.

    manage.py txmail status                 counts by status, oldest waiting message
    manage.py txmail retry --failed         queue every failed message again (or: retry ID ...)
    manage.py txmail cancel ID ...          cancel queued messages
    manage.py txmail requeue-stuck          recover rows claimed by workers that died
    manage.py txmail sweep [--every 60]     what workers do in passing; run it from cron
                                            or as a loop beside the workers

for bulk campaigns (``_txmail/campaigns.py``):

    manage.py txmail campaign start NAME [--follow]   send a bulk class to its recipients
    manage.py txmail campaign follow ID               a progress bar until it is done
    manage.py txmail campaign list | cancel ID

and for the message classes (``_txmail/messages.py``):

    manage.py txmail list                   classes with mailer, template, compiled state
    manage.py txmail render NAME [--variant V] [--format html|text|eml] [--language fr]
    manage.py txmail send NAME [--variant V] --to ADDRESS
"""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Min

from ...bulk import tasks as chunks
from ...delivery import actions, bookkeeping
from ...delivery.models import READY, Delivery, Status
from ...delivery.queue import sweep
from ._txmail import campaigns
from ._txmail import classes as messages


class Command(BaseCommand):
    help = "List, render and send txmail's messages; see and act on the delivery queue."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        sub.add_parser("status", help="Counts of deliveries by status.")
        retry = sub.add_parser("retry", help="Queue failed messages for another attempt now.")
        retry.add_argument("ids", nargs="*", type=int, metavar="ID")
        retry.add_argument("--failed", action="store_true", help="Every failed message.")
        cancel = sub.add_parser("cancel", help="Cancel queued messages.")
        cancel.add_argument("ids", nargs="+", type=int, metavar="ID")
        stuck = sub.add_parser("requeue-stuck",
                               help="Recover messages claimed by workers that died.")
        stuck.add_argument("--older-than", type=float, metavar="SECONDS",
                           help="Claims older than this are stale (default: "
                           "TXMAIL['CLAIM_TIMEOUT']).")
        sweep_parser = sub.add_parser(
            "sweep", help="Recover stale claims and hand overdue messages to the queue.")
        sweep_parser.add_argument("--every", type=float, metavar="SECONDS",
                                  help="Run forever, sweeping every SECONDS.")
        messages.add_arguments(sub)
        campaigns.add_arguments(sub)

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, "do_" + action.replace("-", "_"))(**options)

    def do_list(self, **options: Any) -> None:
        messages.do_list(self, **options)

    def do_render(self, **options: Any) -> None:
        messages.do_render(self, **options)

    def do_send(self, **options: Any) -> None:
        messages.do_send(self, **options)

    def do_campaign(self, **options: Any) -> None:
        campaigns.handle(self, **options)

    def do_status(self, **options: Any) -> None:
        counts = dict(Delivery.objects.values_list("status").annotate(n=Count("pk")))
        for status in Status:
            self.stdout.write(f"{status.value:<10} {counts.get(status.value, 0):>8}")
        oldest = Delivery.objects.filter(status__in=READY).aggregate(t=Min("next_attempt_at"))
        if oldest["t"]:
            self.stdout.write(f"oldest waiting since {oldest['t']:%Y-%m-%d %H:%M:%S %Z}")

    def do_retry(self, *, ids: list[int], failed: bool, **options: Any) -> None:
        if not ids and not failed:
            raise CommandError("Name the deliveries to retry (retry ID ...) or pass --failed.")
        rows = Delivery.objects.all() if failed else Delivery.objects.filter(pk__in=ids)
        rows = rows.filter(status=Status.FAILED) if failed else rows
        count = actions.retry_now(rows)
        self.stdout.write(f"{count} queued for another attempt.")
        gone = list(actions.without_body(rows.filter(status__in=actions.RETRYABLE))
                    .values_list("pk", flat=True)[:20])
        if gone:
            self.stderr.write(f"Not retried: {', '.join(map(str, gone))}"
                              f"{' and more' if len(gone) == 20 else ''}: {actions.NO_BODY}.")

    def do_cancel(self, *, ids: list[int], **options: Any) -> None:
        count = actions.cancel(Delivery.objects.filter(pk__in=ids))
        self.stdout.write(f"{count} cancelled.")

    def do_requeue_stuck(self, *, older_than: float | None, **options: Any) -> None:
        found = actions.requeue_stuck(older_than)
        self.stdout.write(f"{found['requeued']} requeued, {found['resent']} sent again and "
                          f"{found['unknown']} marked unknown (their worker stopped while "
                          "the mailer had them).")

    def do_sweep(self, *, every: float | None, **options: Any) -> None:
        if every is None:
            found = {**sweep(), **chunks.sweep()}  # deliveries, then chunks whose worker died
            self.stdout.write(", ".join(f"{k} {v}" for k, v in found.items()))
            return
        while True:
            # A loop survives a database outage, and judges claims only once
            # the workers had a claim timeout with the database to renew theirs.
            claims = bookkeeping.settled()
            try:
                found = {**sweep(claims=claims), **chunks.sweep(claims=claims)}
            except bookkeeping.LOST as exc:
                bookkeeping.saw_outage()
                self.stderr.write(f"The database is unreachable ({exc}); sweeping again "
                                  f"in {every:g} s.")
            else:
                if any(found.values()):
                    self.stdout.write(", ".join(f"{k} {v}" for k, v in found.items()))
            time.sleep(every)
