"""Bulk sending: a message class to every row of a queryset, from task workers.

``BulkMessage.send_bulk(queryset, **kwargs)`` returns a ``Campaign``; the
recipients are split into primary key ranges (``models.Chunk``), each sent by
one task (``chunks.py``) through the delivery queue, exactly once per
recipient (``models.Recipient``). Bulk classes carry RFC 8058 one-click
unsubscribe headers; the endpoint (``urls.py``) stores the opt-out on the
suppression list for the class's topic.

Import ``BulkMessage`` from ``txmail.bulk.bulk_message`` in emails.py modules.
"""
