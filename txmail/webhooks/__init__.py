"""Provider webhooks → the delivery log and the suppression list.

django-anymail turns each provider's webhook POSTs into its ``tracking``
signal, after checking the request's authentication (basic auth with
``ANYMAIL["WEBHOOK_SECRET"]``, or the provider's signature). ``receivers``
listens: it records delivered / bounced / complained / deferred (and rejected,
failed, unsubscribed) events on the matching ``Delivery`` row, found through
the metadata txmail sends (``txmail_delivery_id``) or the provider's message
id, and adds hard bounces and complaints to the suppression list. Mount the
views with ``path("webhooks/", include("txmail.webhooks.urls"))``.
"""
