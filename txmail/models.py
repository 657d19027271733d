"""txmail's models live next to the code that uses them; Django finds them here."""

from .delivery.models import Delivery, Status

__all__ = ["Delivery", "Status"]
