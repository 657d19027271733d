"""txmail's exceptions: one root, each mixed with the stdlib type callers expect."""

from django.core.exceptions import ImproperlyConfigured
from django.template import TemplateDoesNotExist


class TxmailError(Exception):
    """Root of every error txmail raises."""


class MessageConfigurationError(TxmailError, ImproperlyConfigured):
    """A Message class is declared wrongly; fix the class, not the call."""


class InvalidSetting(TxmailError, ImproperlyConfigured):
    """A ``TXMAIL`` setting has a value txmail can't use; ``setting`` names the key."""

    def __init__(self, msg: str, *, setting: str | None = None):
        super().__init__(msg)
        self.setting = setting


class TemplateNotFound(TxmailError, TemplateDoesNotExist):
    """No template matched any of a message's template names."""

    def __init__(self, msg: str, *, tried: list[str]):
        super().__init__(msg)
        self.tried_paths = tried


class MJMLError(TxmailError, ValueError):
    """MRML rejected a template's MJML."""


class InvalidAddress(TxmailError, ValueError):
    """A recipient or sender address is not a valid email address."""


class HeaderInjection(TxmailError, ValueError):
    """A subject or header value contains a line break."""


class NoRecipients(TxmailError, ValueError):
    """A message was sent with nobody to send it to."""


class UnknownMailer(TxmailError, ImproperlyConfigured):
    """A message names a mailer alias that settings.MAILERS lacks."""
