"""Message-level signals, sent by ``Message.send()`` and ``Message.enqueue()``.

The sender is the message class; every signal has ``message`` (the instance)
and ``queued`` (True for ``enqueue()``).

``pre_send(message, mailer, queued)``
    Before rendering. ``mailer`` is the alias passed to ``send(using=...)`` or
    None. Receivers may change the message (its recipients, context, mailer...)
    or cancel it by raising ``CancelSend("why")``: nothing is rendered or sent,
    and the cancellation is recorded (a delivery-log row with status
    ``cancelled``).
``post_send(message, mailer, result, email, rendered, queued)``
    After ``send()``'s mailer accepted the message (``result`` is the
    ``SentMessage``), or after ``enqueue()`` stored it (``result`` is the queued
    ``Delivery`` row; the worker's outcome comes later through
    ``txmail.delivery.signals.message_sent`` / ``message_failed``).
``send_failed(message, mailer, error, queued)``
    ``send()`` or ``enqueue()`` raised ``error`` after ``pre_send`` (rendering,
    building, an interceptor or the mailer); it is raised again once the
    receivers ran. ``mailer`` is None if the alias itself was the problem.
``send_cancelled(message, mailer, reason, email, delivery, queued)``
    A ``pre_send`` receiver or an interceptor cancelled the message. ``email``
    is None when it was cancelled before it was built; ``delivery`` is the
    ``cancelled`` log row (None for ``send()`` with ``TXMAIL["LOG_SENDS"]`` off).
"""

from django.dispatch import Signal

from .exceptions import TxmailError

pre_send = Signal()
post_send = Signal()
send_failed = Signal()
send_cancelled = Signal()


class CancelSend(TxmailError):
    """Raise in a ``pre_send`` receiver to cancel the message; the text says why.

    Not an error for the caller: ``send()`` returns a ``SentMessage`` whose
    ``cancelled`` holds the reason, ``enqueue()`` the ``cancelled`` row.
    (django-anymail's ``AnymailCancelSend`` works the same way.)
    """
