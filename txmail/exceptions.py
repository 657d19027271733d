"""txmail's exceptions: one root, each mixed with the stdlib type callers expect."""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.mail import InvalidMailer
from django.template import TemplateDoesNotExist


class TxmailError(Exception):
    """Root of every error txmail raises."""


class MessageConfigurationError(TxmailError, ImproperlyConfigured):
    """A Message class is declared wrongly; fix the class, not the call."""


class NotInstalled(TxmailError, ImproperlyConfigured):
    """txmail is used while ``'txmail'`` is not in ``INSTALLED_APPS``."""


class NotMigrated(TxmailError, ImproperlyConfigured):
    """The database lacks txmail's tables (or its task backend's): run ``migrate``."""


class InvalidSetting(TxmailError, ImproperlyConfigured):
    """A setting (a ``TXMAIL`` key, ``INSTALLED_APPS``) txmail can't use; ``setting`` names it."""

    def __init__(self, msg: str, *, setting: str | None = None):
        super().__init__(msg)
        self.setting = setting


class TemplateNotFound(TxmailError, TemplateDoesNotExist):
    """No template matched any of a message's template names."""

    def __init__(self, msg: str, *, tried: list[str]):
        super().__init__(msg)
        self.tried_paths = tried


class UndefinedVariable(TxmailError, LookupError):
    """A template outputs a variable that doesn't exist (raised in tests: ``strict()``)."""

    def __init__(self, msg: str, *, variable: str, template: str):
        super().__init__(msg)
        self.variable = variable
        self.template = template


class MJMLError(TxmailError, ValueError):
    """MRML rejected a template's MJML."""


class TxmailWarning(UserWarning):
    """Root of every warning txmail gives."""


class MJMLDroppedText(TxmailWarning):
    """Text stands directly inside an MJML container, which drops it; the message names
    the template and line. Move the text into an ``<mj-text>``."""


class InvalidAddress(TxmailError, ValueError):
    """A recipient or sender address is not a valid email address."""


class InvalidHeader(TxmailError, ValueError):
    """A subject, header, display name or file name the email can't carry as given."""


class HeaderInjection(InvalidHeader):
    """A value contains a line break, or ``headers`` sets a header txmail owns."""


class InvalidAttachment(TxmailError, ValueError):
    """An attachment's content or type can't go in an email as given."""


class NoRecipients(TxmailError, ValueError):
    """A message was sent with nobody to send it to."""


class UnknownMailer(TxmailError, InvalidMailer):
    """A message names a mailer alias that settings.MAILERS lacks."""


class DeliveryError(TxmailError):
    """A mailer could not deliver a message; names the mailer alias and host.

    ``transient`` tells whether trying again later may succeed. The original
    exception is the ``__cause__``.
    """

    transient = False

    def __init__(self, msg: str, *, alias: str | None = None, host: str | None = None,
                 refused: dict[str, tuple[int, str]] | None = None):
        super().__init__(msg)
        self.alias = alias
        self.host = host
        self.refused = dict(refused or {})


class TransientDeliveryError(DeliveryError, ConnectionError):
    """The mailer or its server failed for now (connection, timeout, SMTP 4xx, HTTP 429/5xx)."""

    transient = True


class RateLimited(TransientDeliveryError):
    """A mailer is at its rate limit (``TXMAIL["RATE_LIMITS"]``) or was told to slow down.

    ``until`` is when the alias may send again. ``attempted`` is True when the
    server was asked and answered "slow down" (SMTP 421/451, HTTP 429): the
    attempt counts. False: txmail held the message back and sent nothing.
    """

    def __init__(self, msg: str, *, alias: str | None, until: Any, attempted: bool = False,
                 host: str | None = None):
        super().__init__(msg, alias=alias, host=host)
        self.until = until
        self.attempted = attempted


class PermanentDeliveryError(DeliveryError, ValueError):
    """The server refused the message for good (SMTP 5xx, every recipient rejected)."""


class DeliveryOutcomeUnknown(DeliveryError):
    """The connection failed after the whole message was handed over, before the reply.

    The server may have accepted it; sending it again risks a duplicate, so
    txmail doesn't retry it. Deliberately not a ``ConnectionError``: a caller's
    ``except ConnectionError: retry`` must not resend what txmail refuses to.
    """


class MailerConfigurationError(DeliveryError, ImproperlyConfigured):
    """A mailer's settings are wrong (``MAILERS``, a backend that can't be imported).

    Nothing was sent and the message is not at fault: a queued message waits
    for the fix without using up its attempts.
    """


class DeliveryNotFound(TxmailError, LookupError):
    """A queued delivery's row no longer exists (deleted before its task ran)."""


class InterceptorConfigurationError(TxmailError, ImproperlyConfigured):
    """``TXMAIL["INTERCEPTORS"]`` or ``TXMAIL["STAGING_REDIRECT"]`` is wrong."""


class CampaignArgumentError(TxmailError, TypeError):
    """A ``send_bulk()`` argument a worker can't be given (not JSON, not re-runnable)."""


class ErasureBlocked(TxmailError, RuntimeError):
    """``erase()`` changed nothing: a running campaign names the address; cancel it first."""


class CancelSend(TxmailError):
    """Raise in a ``pre_send`` receiver or an interceptor to cancel the message.

    The text says why. Not an error for the caller: ``send()`` returns a
    ``SentMessage`` whose ``cancelled`` holds the reason, ``enqueue()`` a
    ``Queued`` handle on the ``cancelled`` row. (django-anymail's
    ``AnymailCancelSend`` works the same way.)
    """


class Bounce(TxmailError):
    """Raised by ``Mailbox.process()``: the message is refused, not retried; the reason is kept."""
