"""txmail: templated transactional email for Django.

    from txmail import Message

    class Welcome(Message):
        template_name = "emails/welcome"
        subject = "Welcome, {{ user.first_name }}"
"""

from .exceptions import (
    HeaderInjection,
    InvalidAddress,
    InvalidSetting,
    MessageConfigurationError,
    MJMLError,
    NoRecipients,
    TemplateNotFound,
    TxmailError,
    UnknownMailer,
)
from .message import Message
from .mime import Attachment, InlineImage
from .render import Rendered
from .send import SentMessage

__all__ = [
    "Attachment",
    "HeaderInjection",
    "InlineImage",
    "InvalidAddress",
    "InvalidSetting",
    "MJMLError",
    "Message",
    "MessageConfigurationError",
    "NoRecipients",
    "Rendered",
    "SentMessage",
    "TemplateNotFound",
    "TxmailError",
    "UnknownMailer",
]
