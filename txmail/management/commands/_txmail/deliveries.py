"""``manage.py txmail status | retry | cancel | requeue-stuck | sweep``: the delivery queue.

Each says what it did on stdout and, on stderr, every row it left alone and
why: a row in a status the action doesn't apply to is named with its status and
what to do instead; an unknown id is an error (exit status 1, after the other
rows are done).
"""

import time
from collections.abc import Iterable
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from ....backends import ratelimit
from ....bulk import tasks as chunks
from ....conf import txmail_settings
from ....delivery import actions, bookkeeping, health
from ....delivery.models import READY, Delivery, Status
from ....delivery.queue import sweep
from ....inbound import process as inbound
from . import receiving, retention

# Why ``retry`` leaves a row of this status alone, and what to do instead.
NOT_RETRIED = {
    Status.QUEUED: "it is already queued; a worker sends it when it's due",
    Status.SENDING: "a worker is sending it now",
    Status.SENT: "it was sent; send a new copy with the admin's 'Send again'",
    Status.UNKNOWN: ("the connection was lost after the server had the whole message, so it "
                     "may have arrived; check with the recipient or the provider, then use "
                     "the admin's 'Send again' if it didn't"),
    Status.CANCELLED: "it was cancelled; use the admin's 'Send again' to send it after all",
    Status.SCHEDULED: "it is scheduled; `txmail reschedule ID now` sends it now",
    Status.EXPIRED: ("it expired: its deadline passed before a worker handed it over; use "
                     "the admin's 'Send again' to send it after all"),
    Status.SUPPRESSED: ("every recipient is on the suppression list; remove them from it "
                        "(admin: Suppressions), then use the admin's 'Send again'"),
}


def add_arguments(sub: Any) -> None:
    sub.add_parser("status", help="Counts of deliveries by status; a queue no worker takes.")
    retry = sub.add_parser("retry", help="Queue failed messages for another attempt now.")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    retry.add_argument("--failed", action="store_true", help="Every failed message.")
    cancel = sub.add_parser("cancel", help="Cancel queued or scheduled messages.")
    cancel.add_argument("ids", nargs="+", type=int, metavar="ID")
    stuck = sub.add_parser("requeue-stuck", help="Recover messages claimed by workers that died.")
    stuck.add_argument("--older-than", type=float, metavar="SECONDS",
                       help="Claims older than this are stale (default: "
                       "TXMAIL['CLAIM_TIMEOUT']).")
    sweep_parser = sub.add_parser(
        "sweep", help="Recover stale claims and hand overdue messages to the queue.")
    sweep_parser.add_argument("--every", type=float, metavar="SECONDS",
                              help="Run forever, sweeping every SECONDS.")


def _ids(pks: Iterable[int], limit: int = 20) -> str:
    pks = list(pks)
    shown = ", ".join(map(str, pks[:limit]))
    return shown + (f" and {len(pks) - limit} more" if len(pks) > limit else "")


def _unknown(rows: dict[int, Any], ids: list[int]) -> list[int]:
    return sorted({pk for pk in ids if pk not in rows})


def _refuse_unknown(unknown: list[int], what: str) -> None:
    if unknown:
        noun = "delivery" if len(unknown) == 1 else "deliveries"
        raise CommandError(f"No {noun} {_ids(unknown)}: nothing {what} for "
                           f"{'it' if len(unknown) == 1 else 'them'}. Check the ids in the "
                           "admin's delivery log or with `manage.py txmail status`.")


def do_status(command: BaseCommand, **options: Any) -> None:
    counts = dict(Delivery.objects.values_list("status").annotate(n=Count("pk")))
    for status in Status:
        command.stdout.write(f"{status.value:<10} {counts.get(status.value, 0):>8}")
    deduplicated = Delivery.objects.filter(duplicates__gt=0).aggregate(
        calls=Sum("duplicates"), rows=Count("pk"))
    if deduplicated["rows"]:
        command.stdout.write(f"deduplicated: {deduplicated['calls']} calls sent nothing, their "
                             f"idempotency key held by {deduplicated['rows']} deliveries")
    now = timezone.now()
    ready = Delivery.objects.filter(status__in=READY)
    due = ready.filter(next_attempt_at__lte=now).aggregate(t=Min("next_attempt_at"), n=Count("pk"))
    if due["n"]:
        command.stdout.write(f"oldest waiting since {due['t']:%Y-%m-%d %H:%M:%S %Z} "
                             f"({due['n']} due now)")
    waiting = ready.filter(next_attempt_at__gt=now)
    later = waiting.exclude(status=Status.SCHEDULED).aggregate(t=Min("next_attempt_at"),
                                                               n=Count("pk"))
    if later["n"]:
        command.stdout.write(f"next retry at {later['t']:%Y-%m-%d %H:%M:%S %Z} "
                             f"({later['n']} waiting for a later attempt)")
    scheduled = waiting.filter(status=Status.SCHEDULED).aggregate(t=Min("next_attempt_at"),
                                                                  n=Count("pk"))
    if scheduled["n"]:
        command.stdout.write(f"next scheduled at {scheduled['t']:%Y-%m-%d %H:%M:%S %Z} "
                             f"({scheduled['n']} waiting for their send time)")
    last = Delivery.objects.filter(queued=True).aggregate(t=Max("claimed_at"))["t"]
    command.stdout.write("last claimed by a worker: " + (
        f"{last:%Y-%m-%d %H:%M:%S %Z}" if last else "never"))
    for line in [*retention.status_lines(), *receiving.status_lines()]:
        command.stdout.write(line)
    for limit in ratelimit.state():
        command.stdout.write(_rate_line(limit, now))
    for stall in health.stalled():
        command.stdout.write(command.style.WARNING(f"Stuck: {stall}"))


def _rate_line(limit: dict[str, Any], now: Any) -> str:
    """One alias's rate limit: ``rate limit 'ses': 14/s; next slot in 0.2 s``."""
    line = f"rate limit {limit['alias']!r}: {limit['limit']}"
    if limit["burst"] > 1:
        line += f" (burst {limit['burst']})"
    ahead = (limit["next_slot"] - now).total_seconds() if limit["next_slot"] else 0
    line += f"; next slot in {ahead:.1f} s" if ahead > 0 else "; free now"
    if limit["blocked_until"]:
        line += (f"; held back until {limit['blocked_until']:%Y-%m-%d %H:%M:%S %Z} after a "
                 f"slow-down reply: {limit['blocked_reason']}")
    return line


def do_retry(command: BaseCommand, *, ids: list[int], failed: bool, **options: Any) -> None:
    if not ids and not failed:
        raise CommandError("Name the deliveries to retry (retry ID ...) or pass --failed.")
    if ids and failed:
        raise CommandError("Pass either IDs or --failed, not both: --failed retries every "
                           "failed message.")
    rows = Delivery.objects.filter(status=Status.FAILED) if failed else (
        Delivery.objects.filter(pk__in=ids))
    # Statuses and which rows lost their body, without reading the bodies.
    found = dict(rows.order_by("pk").values_list("pk", "status"))
    bodiless = set(rows.filter(body__isnull=True).values_list("pk", flat=True))
    if failed and not found:
        command.stdout.write("No failed messages: nothing to retry.")
        return
    retryable = [pk for pk, status in found.items()
                 if status in actions.RETRYABLE and pk not in bodiless]
    count = actions.retry_now(Delivery.objects.filter(pk__in=retryable))
    command.stdout.write(f"{count} queued for another attempt"
                         + (f": {_ids(retryable)}." if count else "."))
    no_body = [pk for pk, status in found.items()
               if status in actions.RETRYABLE and pk in bodiless]
    if no_body:
        command.stderr.write(f"Not retried: {_ids(no_body)}: {actions.NO_BODY}.")
    by_status: dict[str, list[int]] = {}
    for pk, status in found.items():
        if status not in actions.RETRYABLE:
            by_status.setdefault(status, []).append(pk)
    for status, pks in by_status.items():
        command.stderr.write(f"Not retried: {_ids(pks)} ({status}): "
                             f"{NOT_RETRIED.get(Status(status), 'only failed messages can be')}.")
    _refuse_unknown(_unknown(found, ids), "retried")


def do_cancel(command: BaseCommand, *, ids: list[int], **options: Any) -> None:
    found = dict(Delivery.objects.filter(pk__in=ids).order_by("pk").values_list("pk", "status"))
    ready = [pk for pk, status in found.items() if status in READY]
    count = actions.cancel(Delivery.objects.filter(pk__in=ready))
    command.stdout.write(f"{count} cancelled" + (f": {_ids(ready)}." if count else "."))
    # Rows that changed under us (a worker claimed one meanwhile) are read again.
    left = Delivery.objects.filter(pk__in=found).exclude(
        status=Status.CANCELLED, pk__in=ready).values_list("pk", "status")
    by_status: dict[str, list[int]] = {}
    for pk, status in left.order_by("pk"):
        by_status.setdefault(status, []).append(pk)
    for status, pks in by_status.items():
        why = ("a worker is sending it now; it can't be stopped" if status == Status.SENDING
               else "it has ended; only queued, scheduled, throttled or retrying messages "
               "can be cancelled")
        command.stderr.write(f"Not cancelled: {_ids(pks)} ({status}): {why}.")
    _refuse_unknown(_unknown(found, ids), "cancelled")


def do_requeue_stuck(command: BaseCommand, *, older_than: float | None, **options: Any) -> None:
    found = actions.requeue_stuck(older_than)
    if not (found["requeued"] or found["resent"] or found["unknown"]):
        timeout = txmail_settings.CLAIM_TIMEOUT if older_than is None else older_than
        command.stdout.write(f"Nothing stuck: no worker's claim is older than {timeout:g} s.")
        return
    command.stdout.write(f"{found['requeued']} requeued, {found['resent']} sent again and "
                         f"{found['unknown']} marked unknown (their worker stopped while "
                         "the mailer had them).")


SWEPT = {"requeued": "requeued (their worker died)", "resent": "sent again",
         "unknown": "marked unknown (their worker died while the mailer had them)",
         "expired": "expired (past their deadline)",
         "handed_off": "handed to the task backend again", "bodies_dropped": "bodies dropped",
         "chunks requeued": "campaign chunks requeued",
         "chunks handed off": "campaign chunks handed off",
         "inbound requeued": "inbound messages requeued (their worker died)",
         "inbound handed off": "inbound messages handed to the task backend again"}


def _found(found: dict[str, int]) -> str:
    """What a sweep did, in words: "1 requeued (their worker died), 2 bodies dropped."."""
    said = ", ".join(f"{n} {SWEPT.get(key, key)}" for key, n in found.items() if n)
    return said[:1].upper() + said[1:] + "."


def do_sweep(command: BaseCommand, *, every: float | None, **options: Any) -> None:
    if every is None:
        found = {**sweep(), **chunks.sweep(), **inbound.sweep()}  # deliveries, chunks, inbound
        if not any(found.values()):
            command.stdout.write("Nothing to recover: no stale claim, no overdue or lost "
                                 "hand-off, no body past TXMAIL['BODY_RETENTION'].")
            return
        command.stdout.write(_found(found))
        return
    command.stdout.write(f"Sweeping every {every:g} s; a line for each sweep that finds "
                         "something.")
    while True:
        # A loop survives a database outage, and judges claims only once
        # the workers had a claim timeout with the database to renew theirs.
        claims = bookkeeping.settled()
        try:
            found = {**sweep(claims=claims), **chunks.sweep(claims=claims),
                     **inbound.sweep(claims=claims)}
        except bookkeeping.LOST as exc:
            bookkeeping.saw_outage()
            command.stderr.write(f"The database is unreachable ({exc}); sweeping again "
                                 f"in {every:g} s.")
        else:
            if any(found.values()):
                command.stdout.write(_found(found))
        time.sleep(every)
