"""Apply a report that reached a VERP return path: the delivery log and the suppression list.

A report counts only when its return path's signature is good (``mail.verp``), the
delivery it names was handed to a mailer, and the recipient it reports on is the one
that return path was made for (each recipient's copy goes out from its own), and
that delivery was sent to them. Then it goes the way a provider's webhook event goes:
anymail's ``tracking`` signal (when anymail is installed) with a
``DeliveryEvent`` on the row and, for a hard bounce or a complaint, a suppression
entry (``webhooks.receivers``). Soft bounces (a relay gave up on a 4.x.x) are
counted per address: ``TXMAIL["BOUNCES"]["SOFT_BOUNCE_LIMIT"]`` of them received
within ``SOFT_BOUNCE_WINDOW`` seconds suppress it (a full mailbox now and then is
not a dead address).

The same report twice (its Message-ID, else its body) changes nothing the second
time. Whatever is not applied, and why, is in the returned text.
"""

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..addresses import canonical
from ..conf import txmail_settings
from ..delivery.models import Delivery
from ..exceptions import InvalidSetting
from ..mail import verp
from ..mail.esp import DELIVERY_ID
from ..suppression.check import suppress
from ..suppression.models import Reason
from ..webhooks.models import DeliveryEvent, EventType
from ..webhooks.receivers import on_tracking
from . import parse as reports

logger = logging.getLogger("txmail.bounces")

# The provider name on the events and suppression entries of reports by mail.
ESP_NAME = "txmail bounces"
SOFT_BOUNCE_LIMIT = 3
SOFT_BOUNCE_WINDOW = 7 * 86400  # seconds
_EVENTS = {reports.HARD: EventType.BOUNCED, reports.SOFT: EventType.BOUNCED,
           reports.DELAYED: EventType.DEFERRED, reports.COMPLAINT: EventType.COMPLAINED}


def soft_bounce_limit() -> int:
    """``TXMAIL["BOUNCES"]["SOFT_BOUNCE_LIMIT"]``: soft bounces that suppress an address."""
    value = txmail_settings.BOUNCES.get("SOFT_BOUNCE_LIMIT", SOFT_BOUNCE_LIMIT)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidSetting(
            f"TXMAIL['BOUNCES']['SOFT_BOUNCE_LIMIT'] must be a positive integer, not "
            f"{value!r}. Fix it in settings.TXMAIL.", setting="BOUNCES")
    return value


def soft_bounce_window() -> timedelta:
    """``TXMAIL["BOUNCES"]["SOFT_BOUNCE_WINDOW"]``: the span soft bounces are counted in."""
    value = txmail_settings.BOUNCES.get("SOFT_BOUNCE_WINDOW", SOFT_BOUNCE_WINDOW)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 \
            or value == float("inf"):
        raise InvalidSetting(
            f"TXMAIL['BOUNCES']['SOFT_BOUNCE_WINDOW'] must be a positive number of seconds, "
            f"not {value!r}, e.g. 7 * 86400 (a week). Fix it in settings.TXMAIL.",
            setting="BOUNCES")
    return timedelta(seconds=value)


def _span(window: timedelta) -> str:
    """``window`` in words: "7 days", "12 hours", "90 seconds"."""
    seconds = window.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} second{'s' if seconds != 1 else ''}"


def receive(raw: bytes, recipient: str) -> str:
    """Apply the report in ``raw``, sent to return path ``recipient``; say what it did."""
    found = verp.read(recipient)
    if found is None:
        return (f"Not applied: {recipient!r} is not a return path of "
                "TXMAIL['BOUNCES']['RETURN_PATH'].")
    row = Delivery.objects.filter(pk=found.delivery_id).first()
    if row is None:
        return (f"Not applied: delivery {found.delivery_id} does not exist (deleted since), "
                f"or {recipient!r} is forged.")
    listed = row.recipients[found.index] if found.index < len(row.recipients) else None
    if listed is None or not verp.signed(found, listed):
        return (f"Not applied: forged: the signature in {recipient!r} is not txmail's "
                "(SECRET_KEY).")
    address = canonical(listed)
    report = reports.parse(raw)
    if report.kind == reports.AUTO_REPLY:
        sender = report.reporter or "an unknown sender"
        return f"Ignored: an auto-reply from {sender}, not a bounce."
    if report.kind == reports.UNKNOWN:
        return "Ignored: neither a delivery status notification nor an abuse report."
    if problem := _not_about(row, report):
        return f"Not applied: {problem}."
    if address not in _sent_to(row):
        return f"Not applied: delivery {row.pk} was not sent to {address}."
    counted, others = _recipients(address, report)
    if others and not counted:
        return (f"Not applied: {recipient!r} is the return path of delivery {row.pk} to "
                f"{address}, not to {', '.join(others)}; nothing changed.")
    if not counted:
        return f"Ignored: {report.summary} (no failure to apply)."
    with transaction.atomic():  # all of it or, on an error, nothing: the retry applies it
        done = [_apply_one(row, report, found) for found in counted]
    if others:
        done.append(f"not applied to {', '.join(others)} (the return path is {address}'s)")
    return "; ".join(done) + "."


def _sent_to(row: Delivery) -> set[str]:
    """The addresses the delivery was handed to a mailer for."""
    skipped = {canonical(a) for a in [*row.suppressed, *row.refused]}
    return {canonical(a) for a in row.recipients} - skipped


def _not_about(row: Delivery, report: reports.Report) -> str:
    """Why ``report`` can't be about ``row``; empty when it can."""
    if row.handed_over_at is None and row.sent_at is None:
        return f"delivery {row.pk} was never sent (it is {row.status})"
    if (report.original_message_id and row.message_id
            and report.original_message_id.strip() != row.message_id.strip()):
        return (f"the returned message's Message-ID {report.original_message_id} is not "
                f"delivery {row.pk}'s ({row.message_id})")
    return ""


def _recipients(address: str, report: reports.Report
                ) -> tuple[list[reports.Recipient], list[str]]:
    """The report's recipients that count (``address``, the one its return path was
    made for, with an outcome to record), and the others it names."""
    named = list(report.recipients)
    if report.kind == reports.COMPLAINT and not named:
        # A redacted complaint: the signed return path names the address it came from.
        named = [reports.Recipient(address, reports.COMPLAINT, diagnostic=report.feedback_type)]
    counted = [r for r in named if r.outcome in _EVENTS]
    return ([r for r in counted if canonical(r.address) == address],
            [r.address for r in counted if canonical(r.address) != address])


def _apply_one(row: Delivery, report: reports.Report, found: reports.Recipient) -> str:
    address = canonical(found.address)
    what = {reports.HARD: "hard bounce", reports.SOFT: "soft bounce",
            reports.DELAYED: "delay notice", reports.COMPLAINT: "complaint"}[found.outcome]
    label = f"{what} of {address}" + (f" ({found.status})" if found.status else "")
    if DeliveryEvent.objects.filter(esp_name=ESP_NAME, event_id=report.identity[:255],
                                    recipient=address).exists():
        return f"Replayed: the {label} on delivery {row.pk} was applied before; nothing changed"
    description = f"{what} {found.status}".strip()
    if found.outcome == reports.COMPLAINT:
        description = f"complaint ({report.feedback_type or 'abuse'})"
    _track(row, report, found, address, description)
    if found.outcome == reports.HARD or found.outcome == reports.COMPLAINT:
        return f"{label.capitalize()} on delivery {row.pk}: suppressed"
    if found.outcome == reports.SOFT:
        return f"{label.capitalize()} on delivery {row.pk}: {_count_soft(row, address, found)}"
    return f"{label.capitalize()} on delivery {row.pk}: logged"


def _track(row: Delivery, report: reports.Report, found: reports.Recipient, address: str,
           description: str) -> None:
    """The event, as a provider's webhook gives it: anymail's signal, else its receiver."""
    fields: dict[str, Any] = {
        "event_type": _EVENTS[found.outcome], "timestamp": report.date or timezone.now(),
        "event_id": report.identity[:255], "recipient": address,
        "metadata": {DELIVERY_ID: str(row.pk)}, "message_id": None,
        "description": description, "mta_response": found.diagnostic,
        "esp_event": {"type": "soft" if found.outcome == reports.SOFT else found.outcome,
                      "report": report.kind, "status": found.status,
                      "reporter": report.reporter},
    }
    try:
        from anymail.signals import AnymailTrackingEvent, tracking
    except ImportError:  # django-anymail is optional: its receiver alone, called directly
        on_tracking(sender=receive, event=_Event(**fields), esp_name=ESP_NAME)
        return
    tracking.send(sender=receive, event=AnymailTrackingEvent(**fields), esp_name=ESP_NAME)


class _Event:
    """The fields of anymail's ``AnymailTrackingEvent`` that ``on_tracking`` reads."""

    reject_reason = None

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


def _count_soft(row: Delivery, address: str, found: reports.Recipient) -> str:
    limit, window = soft_bounce_limit(), soft_bounce_window()
    # When txmail received each report, not the date it claims: a report can't backdate.
    count = DeliveryEvent.objects.filter(
        esp_name=ESP_NAME, event_type=EventType.BOUNCED, recipient=address,
        description__startswith="soft bounce",
        received_at__gte=timezone.now() - window).count()
    within = f"soft bounces in {_span(window)}"
    if count < limit:
        return f"{count} of {limit} {within}"
    suppress(address, Reason.BOUNCED, source=ESP_NAME, delivery=row,
             description=f"{count} {within}; the last: {found.status} {found.diagnostic}")
    return f"{count} {within} (TXMAIL['BOUNCES']['SOFT_BOUNCE_LIMIT'] {limit}): suppressed"
