"""txmail's models live next to the code that uses them; Django finds them here."""

from .delivery.models import Delivery, Status
from .suppression.models import Suppression

__all__ = ["Delivery", "Status", "Suppression"]
