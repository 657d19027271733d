"""Delivery: the only layer that talks to mailers.

    message → render → build → delivery → mailer

``transport``: ``deliver()`` / ``deliver_many()`` send built emails now over a
``Connection``. ``record``: ``send_now()`` adds the delivery-log row and the
signals. ``queue``: ``enqueue()`` stores the built email and a ``django.tasks``
worker sends it, with claims, retries and a sweep. This package never imports
the message class, rendering or the registry: it takes built emails and mailer
aliases. (``record`` and ``queue`` use models: import them once apps are ready.)
"""

from ..backends.transport import Connection, SentMessage, deliver, deliver_many

__all__ = ["Connection", "SentMessage", "deliver", "deliver_many"]
