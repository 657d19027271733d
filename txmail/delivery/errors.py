"""Sort what a mailer raised into transient, permanent or unknown, naming the mailer.

Transient (worth retrying): connection refused, reset or timed out; SMTP 4xx;
an HTTP provider's 429 or 5xx. Permanent: SMTP 5xx, every recipient refused, an
invalid address, an HTTP 4xx. Unknown: the connection was lost after the whole
message was handed over (``txmail.backends.smtp``). Anything else a backend
raises is treated as permanent: retrying a programming error only repeats it.
"""

import smtplib
import socket
from typing import Any

from ..exceptions import (
    DeliveryError,
    DeliveryOutcomeUnknown,
    PermanentDeliveryError,
    TransientDeliveryError,
)

# requests' and botocore's connection failures, as anymail passes them on.
_TRANSIENT_NAMES = {"AnymailRequestsAPIError", "ConnectionError", "Timeout",
                    "EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError",
                    "ConnectionClosedError"}
# HTTP statuses a provider answers for "later": rate limited, or its own outage.
_TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}


def mailer_host(backend: Any) -> str | None:
    """``host:port`` of an SMTP-like backend, for error messages (None if it has none)."""
    host = getattr(backend, "host", None)
    if not host:
        return None
    port = getattr(backend, "port", None)
    return f"{host}:{port}" if port else str(host)


def _smtp_code(exc: BaseException) -> int | None:
    if isinstance(exc, smtplib.SMTPResponseException):
        return int(exc.smtp_code)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = {code for code, _reply in exc.recipients.values()}
        # Every recipient refused: transient only if every refusal was a 4xx.
        return 450 if codes and all(400 <= c < 500 for c in codes) else 550
    return None


def _http_status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)  # anymail's AnymailAPIError
    response = getattr(exc, "response", None)
    if status is None:
        status = getattr(response, "status_code", None)
    if status is None and isinstance(response, dict):  # boto3's ClientError.response (SES)
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    """Whether sending again later may succeed."""
    code = _smtp_code(exc)
    if code is not None:
        return 400 <= code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    if isinstance(exc, ConnectionError | TimeoutError | socket.timeout | socket.gaierror):
        return True
    status = _http_status(exc)
    if status is not None:
        return status in _TRANSIENT_HTTP
    # Anymail's connection failures wrap requests' or botocore's errors
    # without a status: judge by the cause.
    if type(exc).__name__ in _TRANSIENT_NAMES:
        return True
    cause = exc.__cause__
    return cause is not None and cause is not exc and is_transient(cause)


# Errors about the message itself: another provider would refuse it too.
_MESSAGE_ERRORS = {"InvalidAddress", "AnymailInvalidAddress", "AnymailRecipientsRefused"}
# HTTP statuses that judge the request body (the message), not the account or service.
_MESSAGE_HTTP = {400, 413, 422}


def is_message_error(exc: BaseException) -> bool:
    """Whether ``exc`` is about the message (a refused recipient, a bad address), not the mailer.

    A failover mailer raises these at once instead of trying every provider and
    marking each one down (Symfony's "one bad address marks every transport
    dead"). SMTP 5xx refusals of the recipients or the content count; a 4xx or
    a refused sender or login is the mailer's problem.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _reply in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    if isinstance(exc, PermanentDeliveryError) and exc.refused and exc.__cause__ is None:
        return all(code >= 500 for code, _reply in exc.refused.values())  # every RCPT 5xx
    if any(c.__name__ in _MESSAGE_ERRORS for c in type(exc).__mro__):
        return True
    return _http_status(exc) in _MESSAGE_HTTP


def describe(exc: BaseException) -> str:
    """``exc`` in words: SMTP replies as "SMTP 550 5.1.1 No such user"."""
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        return f"{type(exc).__name__}: SMTP {exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"


def wrap(exc: BaseException, alias: str, backend: Any) -> DeliveryError:
    """Return a txmail error for ``exc`` naming ``alias`` and the host (``raise … from exc``)."""
    if isinstance(exc, DeliveryError):
        exc.alias = exc.alias or alias
        return exc
    host = mailer_host(backend)
    where = f"mailer {alias!r}" + (f" ({host})" if host else "")
    refused: dict[str, tuple[int, str]] = {}
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = {
            addr: (code, reply.decode("utf-8", "replace") if isinstance(reply, bytes)
                   else str(reply))
            for addr, (code, reply) in exc.recipients.items()
        }
    detail = describe(exc)
    if is_transient(exc):
        return TransientDeliveryError(
            f"{where} could not send the message for now ({detail}). txmail retries "
            "queued messages; check that the server is up and reachable.",
            alias=alias, host=host, refused=refused,
        )
    return PermanentDeliveryError(
        f"{where} refused the message ({detail}). Sending it again won't help; "
        "fix the address or the message.",
        alias=alias, host=host, refused=refused,
    )


__all__ = ["DeliveryOutcomeUnknown", "is_message_error", "is_transient", "mailer_host", "wrap"]
