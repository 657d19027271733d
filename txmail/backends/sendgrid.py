"""SendGrid through django-anymail's SendGrid backend, without its "unsupported" notice.

anymail 13.0.1 dropped official support for SendGrid but still ships the
backend and webhook (in 15.x) and warns (``AnymailNotSupportedWarning``) every
time one is created: for a worker that is once per connection, in every log.
txmail chose this backend over a thin one of its own on the official
``sendgrid`` package: anymail's maps attachments, inline images, tags
(categories), metadata (custom args) and its message id onto the v3 API and
parses SendGrid's webhooks into the same ``tracking`` signal, and txmail's own
tests (tests/test_providers.py) run it against a v3 mail-send endpoint. If
anymail removes it, a thin backend over ``sendgrid`` replaces this module.

    "sendgrid": {"BACKEND": "txmail.backends.sendgrid.EmailBackend",
                 "OPTIONS": {"api_key": "SG..."}}
"""

import warnings

try:
    from anymail.backends.sendgrid import EmailBackend as AnymailSendGridBackend
    from anymail.exceptions import AnymailNotSupportedWarning
except ImportError as exc:  # pragma: no cover - the message is the point
    from ..exceptions import MessageConfigurationError

    raise MessageConfigurationError(
        "txmail.backends.sendgrid needs django-anymail: pip install \"txmail[anymail]\"."
    ) from exc

NOTICE = "django-anymail has dropped official support for SendGrid"


def quiet_sendgrid_notice() -> None:
    """Ignore anymail's SendGrid notice (only that one), wherever it is raised from.

    Called again before each backend is created: a filter added inside a
    ``warnings.catch_warnings()`` block (a test runner's) is gone after it.
    """
    warnings.filterwarnings("ignore", message=NOTICE, category=AnymailNotSupportedWarning)


class EmailBackend(AnymailSendGridBackend):
    """anymail's SendGrid v3 backend, quiet about its support status."""

    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        quiet_sendgrid_notice()
        super().__init__(**kwargs)
