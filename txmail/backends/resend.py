"""Resend through django-anymail's Resend backend, with the message's idempotency key.

Resend takes an ``Idempotency-Key`` HTTP header on ``POST /emails``: a request
with a key it has seen in the last 24 hours sends nothing again and answers
with the first email's id. anymail's ``esp_extra`` only reaches the JSON body,
so this backend adds the header from the email's ``idempotency_key`` (set by
txmail for a message with ``DeliveryOptions.idempotency_key``; kept with a
queued message, so a retry of the same delivery carries the same key).

    "resend": {"BACKEND": "txmail.backends.resend.EmailBackend",
               "OPTIONS": {"api_key": "re_..."}}
"""

import hashlib
from typing import Any

try:
    from anymail.backends.resend import EmailBackend as AnymailResendBackend
except ImportError as exc:  # pragma: no cover - the message is the point
    from ..exceptions import MessageConfigurationError

    raise MessageConfigurationError(
        "txmail.backends.resend needs django-anymail: pip install \"txmail[anymail]\"."
    ) from exc

# Resend's limit on a key's length (a longer one is refused with a 400).
MAX_KEY = 256


class EmailBackend(AnymailResendBackend):
    """anymail's Resend backend, sending the message's idempotency key as Resend's header."""

    def build_message_payload(self, message: Any, defaults: Any) -> Any:
        payload = super().build_message_payload(message, defaults)
        key = getattr(message, "idempotency_key", None)
        if key:
            if len(key) > MAX_KEY:
                key = hashlib.sha256(key.encode()).hexdigest()
            payload.headers["Idempotency-Key"] = key
        return payload
