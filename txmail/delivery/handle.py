"""``Queued``: what ``enqueue()`` returns, a handle on the queued message.

In the spirit of ``django.tasks``' ``TaskResult``: it names the delivery and
the Message-ID, and its ``status`` is read again by ``refresh()``, so it never
shows a stale row (the immediate task backend may have sent the message before
``enqueue()`` returned).
"""

from dataclasses import dataclass, field

from .models import FINAL, Delivery


@dataclass
class Queued:
    """A queued message: ``delivery_id``, ``message_id`` and its current ``status``."""

    delivery_id: int
    message_id: str
    status: str = field(default="")

    def __post_init__(self) -> None:
        if not self.status:
            self.refresh()

    @property
    def is_finished(self) -> bool:
        """Whether the message reached a final status (sent, failed, unknown, ...)."""
        return self.status in FINAL

    def refresh(self) -> "Queued":
        """Read the status again from the delivery log; return the handle."""
        self.status = Delivery.objects.filter(pk=self.delivery_id).values_list(
            "status", flat=True).get()
        return self

    @property
    def delivery(self) -> Delivery:
        """The delivery-log row, read now."""
        return Delivery.objects.get(pk=self.delivery_id)

    @classmethod
    def of(cls, row: Delivery) -> "Queued":
        return cls(delivery_id=row.pk, message_id=row.message_id)
