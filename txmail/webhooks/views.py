"""anymail's webhook views behind txmail's guard: credentials first, then the body.

anymail accepts every request while no webhook secret is set (it only warns),
and some of its views read the body before they check the credentials (SES's
header checks parse it); a body that isn't the provider's payload raises, a
500 that the provider retries forever, with the body in the error log. The
guard, in order:

1. refuses every request (403) while anymail would authenticate none: no
   ``WEBHOOK_SECRET`` and no signature verification of the provider's own;
2. checks the basic-auth credentials before anything reads the body (the
   response anymail gives: 400, or SES's 401 challenge when none are sent);
3. answers 400 with a short plain-text reason when anymail can't validate or
   parse the body, and logs the reason, never the body.

Errors in the ``tracking`` signal's receivers still answer 500: the provider
retries, and the event is not lost.
"""

import logging
import warnings
from typing import Any, cast

from anymail.exceptions import (
    AnymailAPIError,
    AnymailInsecureWebhookWarning,
    AnymailWebhookValidationFailure,
)
from anymail.utils import get_request_basic_auth
from anymail.webhooks.amazon_ses import AmazonSESBaseWebhookView
from anymail.webhooks.base import AnymailBaseWebhookView
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare

logger = logging.getLogger("txmail.webhooks")

NO_SECRET = (
    "Webhook refused: no webhook secret is configured. Set ANYMAIL = "
    '{"WEBHOOK_SECRET": "user:long-random-password"} and give the same credentials '
    "to the provider's webhook URL."
)
BAD_CREDENTIALS = "Missing or invalid basic auth."

# What anymail's parsing raises for a body that isn't the provider's payload:
# not JSON or not UTF-8 (ValueError), JSON null or the wrong shape (TypeError,
# KeyError, AttributeError), nested too deeply for the JSON decoder
# (RecursionError); SES wraps its own failures in AnymailAPIError.
_MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError,
              AnymailAPIError)


class RefusedBody(Exception):
    """The body can't be validated or parsed; ``reason`` is safe to show and log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_secured(view: Any) -> bool:
    """Whether anymail authenticates ``view``'s requests (basic auth or a signature).

    anymail clears ``warn_if_no_basic_auth`` exactly when the provider's own
    signature check is in force (SendGrid's verification key, Mailgun's signing
    key ...).
    """
    return bool(getattr(view, "basic_auth", None)) or not getattr(
        view, "warn_if_no_basic_auth", True)


def _plain(status: int, text: str) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


class WebhookGuard(AnymailBaseWebhookView):
    """Put before an anymail webhook view class (see ``guarded()``)."""

    # SES (through SNS) sends credentials only after a 401 challenge.
    challenge_without_credentials = False

    def __init__(self, **kwargs: Any) -> None:
        # anymail warns that such a view is open to anyone; this one refuses
        # every request instead, and the txmail.E040 check says how to fix it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)
            super().__init__(**kwargs)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_secured(self):
            logger.error("txmail: refused a %s webhook request: no webhook secret is "
                         "configured (see the txmail.E040 system check).", self.esp_name)
            return _plain(403, NO_SECRET)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[no-any-return]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = self.refuse_credentials(request)
        if refused is not None:
            return refused
        try:
            return super().post(request, *args, **kwargs)  # type: ignore[no-any-return]
        except RefusedBody as exc:
            logger.warning("txmail: refused a %s webhook body: %s", self.esp_name, exc.reason)
            return _plain(400, exc.reason)

    def refuse_credentials(self, request: HttpRequest) -> HttpResponse | None:
        """The response to a request without the basic-auth credentials, else None."""
        if not self.basic_auth:
            return None  # the provider's signature, checked with the body
        if self.challenge_without_credentials and not request.META.get("HTTP_AUTHORIZATION"):
            response = _plain(401, "Credentials required.")
            response["WWW-Authenticate"] = 'Basic realm="Anymail WEBHOOK_SECRET"'
            return response
        given = get_request_basic_auth(request) or ""
        # Constant time per secret, as anymail compares them.
        if any(constant_time_compare(given, allowed) for allowed in self.basic_auth):
            return None
        logger.warning("txmail: refused a %s webhook request: %s", self.esp_name,
                       BAD_CREDENTIALS)
        return _plain(400, BAD_CREDENTIALS)

    def run_validators(self, request: HttpRequest) -> None:
        try:
            super().run_validators(request)
        except AnymailWebhookValidationFailure as exc:
            # Its message may quote the body (SES: the SNS "Type" it found).
            raise RefusedBody(f"The request did not validate as a {self.esp_name} "
                              "webhook (signature or headers).") from exc
        except _MALFORMED as exc:
            raise RefusedBody(self.malformed_reason(request, exc)) from exc

    def parse_events(self, request: HttpRequest) -> list[Any]:
        try:
            return list(super().parse_events(request))
        except _MALFORMED as exc:
            raise RefusedBody(self.malformed_reason(request, exc)) from exc

    def malformed_reason(self, request: HttpRequest, exc: BaseException) -> str:
        """A short reason for ``exc``, without any of the body."""
        if not request.body:
            return "The body is empty."
        if isinstance(exc, RecursionError):
            return "The body is nested too deeply."
        return f"The body is not a {self.esp_name} webhook payload."


def guarded(view_class: type) -> type[WebhookGuard]:
    """``view_class`` behind the guard: a subclass, so it still is anymail's view."""
    name = f"Guarded{view_class.__name__}"
    return cast(type[WebhookGuard], type(name, (WebhookGuard, view_class), {
        "__module__": __name__, "__qualname__": name,
        "challenge_without_credentials": issubclass(view_class, AmazonSESBaseWebhookView),
    }))
