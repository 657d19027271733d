"""Delivery: the delivery log, the queue and what keeps it honest.

    outbox → delivery → backends.transport → mailers[alias]

``log``: ``send_now()`` sends a built email at once, with its delivery-log row
and the delivery signals. ``queue``: ``enqueue()`` stores the built email and a
``django.tasks`` worker sends it, with claims, retries and a sweep
(``recovery``). This package never imports the message class, rendering or the
registry (an import contract in ``pyproject.toml`` says so): it takes built
emails, mailer aliases and ``DeliveryOptions``. Its modules use models: import
them once apps are ready.
"""
