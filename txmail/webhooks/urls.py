"""anymail's webhook views, e.g. ``<prefix>amazon_ses/tracking/``, ``<prefix>sendgrid/tracking/``.

Mounting anymail's own URLconf keeps every provider it supports; txmail's
receivers listen to the signal those views send. SendGrid's tracking view is
the same view, quiet about anymail's support notice (see
``txmail.backends.sendgrid``). Requires django-anymail
(``pip install "txmail[anymail]"``).
"""

from typing import Any

from django.urls import include, path

try:
    from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
except ImportError as exc:  # pragma: no cover - the message is the point
    from ..exceptions import MessageConfigurationError

    raise MessageConfigurationError(
        "txmail.webhooks.urls needs django-anymail: pip install \"txmail[anymail]\"."
    ) from exc

from ..backends.sendgrid import quiet_sendgrid_notice


class QuietSendGridTrackingView(SendGridTrackingWebhookView):
    def __init__(self, **kwargs: Any) -> None:
        quiet_sendgrid_notice()
        super().__init__(**kwargs)


urlpatterns = [
    # Before anymail's own pattern for the same path: the first match wins.
    path("sendgrid/tracking/", QuietSendGridTrackingView.as_view(),
         name="txmail_sendgrid_tracking_webhook"),
    path("", include("anymail.urls")),
]
