"""``manage.py txmail prune | erase``: old delivery and inbound rows deleted, an address erased."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ....delivery import retention
from ....erasure.erase import describe, describe_left, erase
from ....exceptions import TxmailError
from ....inbound import incinerate
from ....suppression.erased import PREFIX
from ....suppression.models import Suppression


def add_arguments(sub: Any) -> None:
    prune = sub.add_parser(
        "prune", help="Delete ended deliveries (and their events) older than "
        "TXMAIL['RETENTION'] keeps them, and inbound mail past TXMAIL['INBOUND']['RETENTION'].")
    prune.add_argument("--dry-run", action="store_true",
                       help="Count what would be deleted; delete nothing.")
    erase_parser = sub.add_parser(
        "erase", help="Remove an address from every txmail table; its suppression entries "
        "stay, as a keyed hash.")
    erase_parser.add_argument("address", metavar="ADDRESS",
                              help="The address, in any case or spelling of its domain.")
    erase_parser.add_argument("--dry-run", action="store_true",
                              help="Count what would be erased; change nothing.")


def status_lines() -> list[str]:
    """What ``txmail status`` says of retention and erased addresses."""
    lines = []
    if retention.configured():
        lines.append(f"past TXMAIL['RETENTION']: {retention.due().count()} (workers delete "
                     "them hourly; or run `manage.py txmail prune`)")
    erased = Suppression.objects.filter(address__startswith=PREFIX).count()
    if erased:
        lines.append(f"erased addresses kept suppressed as a hash: {erased}")
    return lines


def do_prune(command: BaseCommand, *, dry_run: bool, **options: Any) -> None:
    _prune_deliveries(command, dry_run=dry_run)
    inbound = incinerate.incinerate(dry_run=dry_run)
    if inbound:
        verb = "would be deleted" if dry_run else "deleted"
        command.stdout.write(f"{inbound} inbound {'message' if inbound == 1 else 'messages'} "
                             f"{verb}, past TXMAIL['INBOUND']['RETENTION'].")


def _prune_deliveries(command: BaseCommand, *, dry_run: bool) -> None:
    if not retention.configured():
        command.stdout.write("TXMAIL['RETENTION'] keeps every delivery: nothing to prune. "
                             "Set periods per status or class to delete old rows.")
        return
    pruned = retention.prune(dry_run=dry_run)
    verb = "would be deleted" if dry_run else "deleted"
    if not pruned:
        command.stdout.write(f"No delivery is past TXMAIL['RETENTION']: nothing {verb}.")
        return
    width = max(len(name or "-") for _status, name in pruned)
    for (status, name), n in sorted(pruned.items()):
        command.stdout.write(f"{status:<10} {name or '-':<{width}} {n:>8}")
    total = sum(pruned.values())
    command.stdout.write(f"{total} {'delivery' if total == 1 else 'deliveries'} {verb}, "
                         "with their events.")


def do_erase(command: BaseCommand, *, address: str, dry_run: bool, **options: Any) -> None:
    try:
        counts = erase(address, dry_run=dry_run)
    except TxmailError as exc:
        raise CommandError(str(exc)) from exc
    for line in describe(counts):
        command.stdout.write(line)
    if counts["left"]:
        raise CommandError(describe_left(counts["left"]))
    command.stdout.write(
        "Dry run: nothing was changed." if dry_run else
        "Erased. Its suppression entries stay, as a keyed hash of the address.")
