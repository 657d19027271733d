"""Every signal txmail sends, in one table.

================== ================ ==========================================
signal             sender           arguments
================== ================ ==========================================
pre_send           message class    message, mailer, queued
post_send          message class    message, mailer, result, email, rendered,
                                    queued
send_failed        message class    message, mailer, error, queued
send_cancelled     message class    message, mailer, reason, email, delivery,
                                    queued
send_deduplicated  message class    message, mailer, key, result, queued
message_sent       mailer alias     email, result, delivery
message_failed     mailer alias     email, error, delivery, will_retry
message_suppressed mailer alias     email, suppressed, delivery
inbound_received   ingress          inbound
inbound_processed  mailbox class    inbound
================== ================ ==========================================

The first five are the message's: ``Message.send()`` and ``Message.enqueue()``
send them in the caller's process; ``message`` is the instance and ``queued``
is True for ``enqueue()``.

``pre_send``
    Before rendering. ``mailer`` is the alias passed to ``send(using=...)`` or
    None. Receivers may change the message (its recipients, context,
    mailer...) or cancel it by raising ``txmail.CancelSend("why")``: nothing is
    rendered or sent, and the cancellation is recorded (a delivery-log row with
    status ``cancelled``).
``post_send``
    After ``send()``'s mailer accepted the message (``result`` is the
    ``SentMessage``), or after ``enqueue()`` stored it (``result`` is the queued
    ``Delivery`` row; the worker's outcome comes later through
    ``message_sent`` / ``message_failed``).
``send_failed``
    ``send()`` or ``enqueue()`` raised ``error`` after ``pre_send`` (rendering,
    building, an interceptor or the mailer); it is raised again once the
    receivers ran. ``mailer`` is None if the alias itself was the problem.
``send_cancelled``
    A ``pre_send`` receiver or an interceptor cancelled the message. ``email``
    is None when it was cancelled before it was built; ``delivery`` is the
    ``cancelled`` log row (None for ``send()`` with ``TXMAIL["LOG_SENDS"]`` off).
``send_deduplicated``
    A call with the same class and idempotency ``key`` within its window sent
    or stored the message: this one rendered and sent nothing (no
    ``post_send``). ``result`` is what the call returns: the first delivery's
    ``Queued`` handle or a ``SentMessage`` whose status is ``deduplicated``.

The last three are the delivery layer's, sent after each attempt wherever it
runs (the caller's process for ``send()``, a worker for queued messages):

``message_sent``
    A mailer accepted the message; ``result`` is the ``SentMessage``.
``message_failed``
    A send failed; ``error`` is a ``DeliveryError``, and ``will_retry`` is True
    for a queued message that will be tried again.
``message_suppressed``
    Every recipient was on the suppression list and nothing was sent
    (``suppressed``: ``{address: reason}``).

``delivery`` is the delivery-log row, or None when ``send()`` logging is off.

The last two are inbound mail's (``txmail.inbound``); ``inbound`` is the
``InboundMessage`` row:

``inbound_received``
    An ingress stored it (in its transaction; a worker processes it once it
    commits). ``sender`` is the ingress: ``"smtp"``, ``"lmtp"``, ``"stdin"`` or
    the provider's name.
``inbound_processed``
    A worker ended it: ``inbound.status`` is processed, bounced or failed.
    ``sender`` is the mailbox class, None for a bounce report or an unrouted address.
"""

from django.dispatch import Signal

pre_send = Signal()
post_send = Signal()
send_failed = Signal()
send_cancelled = Signal()
send_deduplicated = Signal()

message_sent = Signal()
message_failed = Signal()
message_suppressed = Signal()

inbound_received = Signal()
inbound_processed = Signal()
