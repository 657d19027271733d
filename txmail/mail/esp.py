"""anymail's per-message features, carried from the message class to the provider.

A message sets ``tags``, ``metadata`` and ``esp_extra`` on the built email (the
attribute names anymail reads from any ``EmailMessage``); Django's SMTP backend
ignores them. The queue keeps them on the row (``Delivery.esp_options``), since
the stored bytes can't hold them, and puts them back on the email it rebuilds.
Every logged send also carries the delivery's id in the metadata, so a
provider's webhook events find their row (``txmail.webhooks``). A message with
an idempotency key carries ``idempotency_key`` too, for the providers that take
one (``txmail.backends.resend``); anymail's other backends and SMTP ignore it.
"""

import copy
from typing import Any

# The metadata key holding the delivery id; webhooks read it back.
DELIVERY_ID = "txmail_delivery_id"
_ATTRS = ("tags", "metadata", "esp_extra", "idempotency_key")


def options_of(email: Any) -> dict[str, Any]:
    """Return the email's anymail features that are set, for the queue (JSON)."""
    return {name: copy.deepcopy(getattr(email, name)) for name in _ATTRS
            if getattr(email, name, None)}


def apply(email: Any, options: dict[str, Any], delivery_id: int | None) -> None:
    """Set the ``options`` that have a value on ``email``; add ``delivery_id`` to its metadata."""
    for name, value in options.items():
        if value:
            setattr(email, name, copy.deepcopy(value))
    if delivery_id is not None:
        email.metadata = {**(getattr(email, "metadata", None) or {}),
                          DELIVERY_ID: str(delivery_id)}
