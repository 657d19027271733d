"""``manage.py txmail reschedule ID ... WHEN``: send queued or scheduled messages at another time.

``WHEN`` is an ISO datetime (``2026-12-24T09:00``, in ``settings.TIME_ZONE``
unless it has an offset), ``now``, or a delay from now: ``+90s``, ``+30m``,
``+2h``, ``+1d``, ``+1h30m``. Rows a worker claimed, rows that ended and rows
whose deadline comes first are named on stderr with the reason.
"""

import re
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ....delivery import actions
from ....delivery.models import READY, Delivery
from .deliveries import _ids, _refuse_unknown, _unknown

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DELAY = re.compile(r"\+((?:\d+[smhdw])+)")


def add_arguments(sub: Any) -> None:
    again = sub.add_parser("reschedule", help="Send queued or scheduled messages at another time.")
    again.add_argument("ids", nargs="+", type=int, metavar="ID")
    again.add_argument("when", metavar="WHEN",
                       help="An ISO datetime (2026-12-24T09:00), 'now', or a delay: +30m, "
                       "+2h, +1d, +1h30m.")


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """``WHEN`` as an aware datetime; a ``CommandError`` with the accepted forms otherwise."""
    now = now or timezone.now()
    if text == "now":
        return now
    if match := DELAY.fullmatch(text):
        parts = re.findall(r"(\d+)([smhdw])", match.group(1))
        return now + timedelta(**{UNITS[unit]: int(n) for n, unit in parts})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"{text!r} is not a time: give an ISO datetime (2026-12-24T09:00, or with an "
            "offset: 2026-12-24T09:00+01:00), 'now', or a delay such as +30m, +2h, +1d."
        ) from None
    return timezone.make_aware(when) if timezone.is_naive(when) else when


def do_reschedule(command: BaseCommand, *, ids: list[int], when: str, **options: Any) -> None:
    moment = parse_when(when)
    found = dict(Delivery.objects.filter(pk__in=ids).order_by("pk").values_list("pk", "status"))
    count = actions.reschedule(Delivery.objects.filter(pk__in=found), moment)
    at = f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S %Z}"
    moved = sorted(Delivery.objects.filter(pk__in=found, next_attempt_at=moment, status__in=READY)
                   .values_list("pk", flat=True))
    command.stdout.write(f"{count} rescheduled for {at}" + (f": {_ids(moved)}." if count else "."))
    for pk, status, expires_at in (Delivery.objects.filter(pk__in=found).exclude(pk__in=moved)
                                   .order_by("pk").values_list("pk", "status", "expires_at")):
        if status in READY and expires_at is not None:
            why = (f"its deadline ({timezone.localtime(expires_at):%Y-%m-%d %H:%M:%S %Z}) "
                   "comes first; cancel it, or send a new message")
        elif status == "sending":
            why = "a worker is sending it now"
        else:
            why = ("it has ended; only queued, scheduled, throttled or retrying messages can "
                   "be rescheduled")
        command.stderr.write(f"Not rescheduled: {pk} ({status}): {why}.")
    _refuse_unknown(_unknown(found, ids), "rescheduled")
