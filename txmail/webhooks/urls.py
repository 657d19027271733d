"""anymail's webhook views, e.g. ``<prefix>amazon_ses/tracking/``, ``<prefix>sendgrid/tracking/``.

Every view of anymail's own URLconf, at the same path and name
(``anymail:sendgrid_tracking_webhook`` ...), each behind txmail's guard
(``txmail.webhooks.views``): no request is accepted while no webhook secret is
set, credentials are checked before the body is read, and a malformed body
gets a 400. txmail's receivers listen to the signal those views send.
SendGrid's tracking view is quiet about anymail's support notice (see
``txmail.backends.sendgrid``). Requires django-anymail
(``pip install "txmail[anymail]"``).
"""

from typing import Any

from django.urls import URLPattern, include, path, re_path
from django.urls.resolvers import RegexPattern

try:
    from anymail import urls as anymail_urls
    from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
except ImportError as exc:  # pragma: no cover - the message is the point
    from ..exceptions import MessageConfigurationError

    raise MessageConfigurationError(
        "txmail.webhooks.urls needs django-anymail: pip install \"txmail[anymail]\"."
    ) from exc

from ..backends.sendgrid import quiet_sendgrid_notice
from .views import guarded


class QuietSendGridTrackingView(SendGridTrackingWebhookView):
    def __init__(self, **kwargs: Any) -> None:
        quiet_sendgrid_notice()
        super().__init__(**kwargs)


_QUIET = {SendGridTrackingWebhookView: QuietSendGridTrackingView}


def guarded_pattern(pattern: URLPattern) -> URLPattern:
    """``pattern`` with its anymail view behind txmail's guard."""
    view_class = pattern.callback.view_class  # type: ignore[attr-defined]
    view = guarded(_QUIET.get(view_class, view_class)).as_view(
        **pattern.callback.view_initkwargs)  # type: ignore[attr-defined]
    make = re_path if isinstance(pattern.pattern, RegexPattern) else path
    return make(str(pattern.pattern), view, pattern.default_args, name=pattern.name)


anymail_patterns = [guarded_pattern(p) for p in anymail_urls.urlpatterns]
_sendgrid_tracking = next(p for p in anymail_patterns if p.name == "sendgrid_tracking_webhook")

urlpatterns = [
    path("", include((anymail_patterns, anymail_urls.app_name))),
    # The name txmail gave SendGrid's tracking view (the same view as anymail's).
    path("sendgrid/tracking/", _sendgrid_tracking.callback,
         name="txmail_sendgrid_tracking_webhook"),
]
