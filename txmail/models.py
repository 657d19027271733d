"""txmail's models live next to the code that uses them; Django finds them here."""

from .backends.models import MailerRate
from .bulk.models import Campaign, Chunk, Recipient
from .delivery.handoff import WaitingTask
from .delivery.idempotency import IdempotencyKey
from .delivery.models import Delivery, Status
from .inbound.models import InboundMessage
from .suppression.models import Suppression
from .webhooks.models import DeliveryEvent

__all__ = ["Campaign", "Chunk", "Delivery", "DeliveryEvent", "IdempotencyKey", "InboundMessage",
           "MailerRate",
           "Recipient", "Status", "Suppression", "WaitingTask"]
