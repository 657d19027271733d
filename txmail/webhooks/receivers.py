"""Listen to anymail's ``tracking`` signal: log the event, update the suppression list.

Hard bounces and complaints suppress the address for every message; an
unsubscribe only for the topic of the delivery it is about.
"""

import logging
from typing import Any

from django.db import IntegrityError, transaction

from ..delivery.models import Delivery
from ..mail.esp import DELIVERY_ID
from ..suppression.check import suppress
from ..suppression.models import Reason
from .models import DeliveryEvent, EventType

logger = logging.getLogger("txmail.webhooks")

# Soft bounces anymail still reports as "bounced": the mailbox may work later.
# txmail.bounces reports a DSN's 4.x.x failures so, counting them itself.
_SOFT = {("Amazon SES", "Transient"), ("Amazon SES", "Undetermined"), ("SendGrid", "blocked"),
         ("txmail bounces", "soft")}


def find_delivery(event: Any) -> Delivery | None:
    """The row an event is about: by the metadata txmail sent, else the provider's id."""
    delivery_id = str((event.metadata or {}).get(DELIVERY_ID, ""))
    if delivery_id.isdigit():
        row = Delivery.objects.filter(pk=int(delivery_id)).first()
        if row is not None:
            return row
    if event.message_id:
        return Delivery.objects.filter(provider_message_id=str(event.message_id)).first()
    return None


def bounce_kind(event: Any, esp_name: str) -> str:
    """The provider's own word for how hard a bounce is (SES bounceType, SendGrid type)."""
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    if esp_name == "Amazon SES":
        return str(raw.get("bounce", {}).get("bounceType", ""))
    return str(raw.get("type", ""))


def suppression_reason(event: Any, esp_name: str) -> str | None:
    """The suppression reason an event gives its recipient, or None."""
    if event.event_type == EventType.BOUNCED:
        return None if (esp_name, bounce_kind(event, esp_name)) in _SOFT else Reason.BOUNCED
    if event.event_type == EventType.COMPLAINED:
        return Reason.COMPLAINED
    if event.event_type == EventType.UNSUBSCRIBED:
        return Reason.UNSUBSCRIBED
    if event.event_type == EventType.REJECTED:  # the provider's own list refused it
        return {"bounced": Reason.BOUNCED, "spam": Reason.COMPLAINED,
                "unsubscribed": Reason.UNSUBSCRIBED}.get(str(event.reject_reason))
    return None


def on_tracking(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """Record ``event`` on its delivery and update the suppression list."""
    if event.event_type not in EventType.values:
        return  # opens, clicks, "queued": not part of the delivery log
    recipient = str(event.recipient or "").lower()
    row = find_delivery(event)
    description = str(event.description or "")
    if row is None:
        logger.info("txmail: %s %s event for %s matches no delivery; not logged.",
                    esp_name, event.event_type, recipient or "an unknown recipient")
    else:
        try:
            with transaction.atomic():
                DeliveryEvent.objects.create(
                    delivery=row, event_type=event.event_type, recipient=recipient,
                    timestamp=event.timestamp, description=description,
                    mta_response=str(event.mta_response or ""), esp_name=esp_name,
                    event_id=str(event.event_id or ""))
        except IntegrityError:
            return  # the provider sent this event before (webhooks are retried)
    reason = suppression_reason(event, esp_name)
    if not reason or not recipient:
        return
    topic = ""
    if reason == Reason.UNSUBSCRIBED:
        # An unsubscribe is from the list the message came from, as with the
        # one-click link: an empty topic would stop every message, password
        # resets included. Only hard bounces and complaints are global.
        topic = row.topic if row is not None else ""
        if not topic:
            logger.info("txmail: %s unsubscribe of %s not added to the suppression list: "
                        "%s, and an unsubscribe applies to one topic only.", esp_name,
                        recipient, "it matches no delivery" if row is None
                        else f"delivery {row.pk} has no topic")
            return
    suppress(recipient, reason, source=esp_name, delivery=row, topic=topic,
             description=" ".join(filter(None, [description, event.mta_response or ""])))
