"""Signals the delivery layer sends; the sender is the mailer alias.

``message_sent(email, result, delivery)`` after a mailer accepted a message;
``message_failed(email, error, delivery)`` after a send failed (``error`` is a
``DeliveryError``; for a queued message that will be retried, ``will_retry`` is
True). ``delivery`` is the log row, or None when ``send()`` logging is off.
``message_suppressed(email, suppressed, delivery)`` when every recipient was on
the suppression list and nothing was sent (``suppressed``: ``{address: reason}``).
"""

from django.dispatch import Signal

message_sent = Signal()
message_failed = Signal()
message_suppressed = Signal()
