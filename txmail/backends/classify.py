"""Sort what a mailer raised into transient, permanent or unknown, naming the mailer.

Transient (worth retrying): connection refused, reset, unreachable or timed
out before the message went; SMTP 4xx; an HTTP provider's 429 or 5xx, or an
account paused or over its limits. Permanent: SMTP 5xx, every recipient
refused, an invalid address, an HTTP 4xx. Unknown: the connection was lost or
timed out after the whole message was handed over, before the answer
(``txmail.backends.smtp`` for SMTP; a read timeout or a dropped response for
HTTP APIs). Anything else a backend raises is treated as permanent: retrying a
programming error only repeats it.
"""

import errno
import re
import smtplib
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from ..exceptions import (
    DeliveryError,
    DeliveryOutcomeUnknown,
    MailerConfigurationError,
    PermanentDeliveryError,
    TransientDeliveryError,
)

# requests' and botocore's failures to connect, as anymail passes them on.
_TRANSIENT_NAMES = {"AnymailRequestsAPIError", "ConnectionError", "Timeout",
                    "EndpointConnectionError", "ConnectTimeoutError"}
# Failures after the request went out, before the answer came (requests' and
# urllib3's read timeouts and dropped responses; botocore's): the provider may
# have accepted the message, and sending it again may send it twice.
# urllib3's ProtocolError is a connection lost once the request was under way
# ("Connection aborted."); a refused connection is a NewConnectionError instead.
_UNKNOWN_NAMES = {"ReadTimeout", "ReadTimeoutError", "ChunkedEncodingError", "ProtocolError",
                  "RemoteDisconnected", "IncompleteRead", "ConnectionClosedError"}
# Network errors that say nothing about the message: the route may come back.
_TRANSIENT_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN,
                     errno.ETIMEDOUT, errno.ECONNABORTED}
# Amazon SES error codes about the account, not the message: another provider
# may send it. Paused, suspended or over its limits may pass (retried); an
# unverified MAIL FROM domain needs the settings fixed.
_SES_ACCOUNT_CODES = {"AccountSuspendedException", "SendingPausedException",
                      "LimitExceededException", "TooManyRequestsException", "Throttling",
                      "ThrottlingException"}
_SES_SETTINGS_CODES = {"MailFromDomainNotVerifiedException"}
# RFC 3463 status codes about the message at MAIL FROM: too big (5.3.4, and 552
# for SIZE), or its content (5.6.x). Another server would refuse it too.
_MESSAGE_STATUS = re.compile(rb"^5\.(3\.4|6\.\d+)\b")
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


def _related(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, what it was raised from, and exceptions in its args (requests nests them)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 16:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        yield current
        # Not __context__: an exception the caller was handling when it sent
        # (a timeout from another API) says nothing about this send.
        todo += [e for e in (current.__cause__, *current.args) if isinstance(e, BaseException)]


def is_outcome_unknown(exc: BaseException) -> bool:
    """Whether an HTTP provider's request failed after it went out, before the answer."""
    if isinstance(exc, smtplib.SMTPException):
        return False  # txmail.backends.smtp tells where an SMTP exchange stopped
    return any(cls.__name__ in _UNKNOWN_NAMES
               for related in _related(exc) for cls in type(related).__mro__)


def is_configuration_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the settings are wrong, not the server or the message.

    Django's ``InvalidMailer`` (an unknown alias, a BACKEND that doesn't
    import, missing OPTIONS), txmail's ``UnknownMailer`` and any other
    ``ImproperlyConfigured``, and an ``ImportError`` (a backend's missing
    dependency).
    """
    return any(isinstance(related, ImproperlyConfigured | ImportError)
               for related in _related(exc))


def _ses_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def is_transient(exc: BaseException) -> bool:
    """Whether sending again later may succeed."""
    code = _smtp_code(exc)
    if code is not None:
        return 400 <= code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    if isinstance(exc, ConnectionError | TimeoutError | socket.timeout | socket.gaierror):
        return True
    if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS:
        return True
    if _ses_code(exc) in _SES_ACCOUNT_CODES:
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
    if isinstance(exc, smtplib.SMTPSenderRefused):
        reply = exc.smtp_error if isinstance(exc.smtp_error, bytes) else b""
        return exc.smtp_code == 552 or bool(_MESSAGE_STATUS.match(reply))
    if _ses_code(exc) in _SES_ACCOUNT_CODES | _SES_SETTINGS_CODES:
        return False
    if isinstance(exc, PermanentDeliveryError) and exc.refused and exc.__cause__ is None:
        return all(code >= 500 for code, _reply in exc.refused.values())  # every RCPT 5xx
    if any(c.__name__ in _MESSAGE_ERRORS for c in type(exc).__mro__):
        return True
    return _http_status(exc) in _MESSAGE_HTTP


# A server or provider asking the sender to slow down, not refusing the message:
# SMTP 421 (closing, "too many connections") and 451 to the connection, MAIL or
# DATA (RCPT refusals are about one recipient, e.g. greylisting), HTTP 429, SES
# throttling.
_SLOW_DOWN_SMTP = {421, 451}
_SES_THROTTLING = {"Throttling", "ThrottlingException", "TooManyRequestsException"}


def slow_down(exc: BaseException) -> tuple[bool, float | None]:
    """Whether ``exc`` says "slow down", and the seconds its ``Retry-After`` asks for."""
    for related in _related(exc):
        if isinstance(related, smtplib.SMTPResponseException) and (
                related.smtp_code in _SLOW_DOWN_SMTP):
            return True, None
        if _ses_code(related) in _SES_THROTTLING:
            return True, None
        if _http_status(related) == 429:
            headers = getattr(getattr(related, "response", None), "headers", None) or {}
            return True, retry_after(headers.get("Retry-After"))
    return False, None


def retry_after(value: Any) -> float | None:
    """Seconds of an HTTP ``Retry-After`` (seconds or an HTTP date, RFC 9110 10.2.3)."""
    if not isinstance(value, str) or not value.strip():
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


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
    if is_configuration_error(exc):
        return MailerConfigurationError(
            f"{where} is not configured correctly ({detail}). Fix settings.MAILERS"
            f"[{alias!r}] (its BACKEND and OPTIONS, and the aliases it names); queued "
            "messages wait and are tried again, without using up their attempts.",
            alias=alias, host=host)
    if is_outcome_unknown(exc):
        return DeliveryOutcomeUnknown(
            f"{where} lost the connection after the message was sent, before the "
            f"answer ({detail}). The provider may have accepted it; check its log "
            "before sending it again.", alias=alias, host=host)
    if is_transient(exc):
        check = ("check the provider account: paused, suspended or over its sending "
                 "limits" if _ses_code(exc) in _SES_ACCOUNT_CODES else
                 "check that the server is up and reachable")
        return TransientDeliveryError(
            f"{where} could not send the message for now ({detail}). txmail retries "
            f"queued messages; {check}.", alias=alias, host=host, refused=refused,
        )
    advice = ("fix the address or the message" if is_message_error(exc) else
              "check the mailer's settings and account (credentials, sender domain, "
              "sending limits)")
    return PermanentDeliveryError(
        f"{where} refused the message ({detail}). Sending it again won't help; "
        f"{advice}.", alias=alias, host=host, refused=refused,
    )


__all__ = ["DeliveryOutcomeUnknown", "is_configuration_error", "is_message_error",
           "is_outcome_unknown", "is_transient", "mailer_host", "retry_after", "slow_down",
           "wrap"]
