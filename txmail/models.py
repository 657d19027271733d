"""txmail's models live next to the code that uses them; Django finds them here."""

from .delivery.models import Delivery, Status
from .suppression.models import Suppression
from .webhooks.models import DeliveryEvent

__all__ = ["Delivery", "DeliveryEvent", "Status", "Suppression"]
