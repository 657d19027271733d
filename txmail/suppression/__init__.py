"""The suppression list: addresses nothing is sent to.

Hard bounces and spam complaints reported by a provider's webhook add an
address (``txmail.webhooks``); admins add and remove entries by hand; bulk
unsubscribes will use the same table. The delivery layer drops suppressed
recipients before anything goes out (``check.filter_recipients``) unless the
message class opts out (``DeliveryOptions(respect_suppression=False)``).
"""
