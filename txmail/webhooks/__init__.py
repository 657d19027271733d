"""Provider webhooks → the delivery log and the suppression list.

django-anymail turns each provider's webhook POSTs into its ``tracking``
signal. txmail mounts each of anymail's views behind a guard (``views``): no
request is accepted while no webhook secret is set (``ANYMAIL["WEBHOOK_SECRET"]``,
or the provider's signature key; the ``txmail.E040`` check says so at startup),
the credentials are checked before the body is read, and a malformed body gets
a 400. ``receivers`` listens: it records delivered / bounced / complained /
deferred (and rejected, failed, unsubscribed) events on the matching
``Delivery`` row, found through the metadata txmail sends
(``txmail_delivery_id``) or the provider's message id, adds hard bounces and
complaints to the suppression list, and unsubscribes for the delivery's topic
only. Mount the views with ``path("webhooks/", include("txmail.webhooks.urls"))``.
"""
