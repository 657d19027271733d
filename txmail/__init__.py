"""txmail: templated transactional email for Django.

    from txmail import Message

    class Welcome(Message):
        template_name = "emails/welcome"
        subject = "Welcome, {{ user.first_name }}"
"""

from .delivery import SentMessage
from .exceptions import (
    DeliveryError,
    DeliveryOutcomeUnknown,
    HeaderInjection,
    InvalidAddress,
    InvalidAttachment,
    InvalidHeader,
    InvalidSetting,
    MailerConfigurationError,
    MessageConfigurationError,
    MJMLError,
    NoRecipients,
    PermanentDeliveryError,
    TemplateNotFound,
    TransientDeliveryError,
    TxmailError,
    UnknownMailer,
)
from .message import Message
from .mime import Attachment, InlineImage
from .render import Rendered

__all__ = [
    "Attachment",
    "DeliveryError",
    "DeliveryOutcomeUnknown",
    "HeaderInjection",
    "InlineImage",
    "InvalidAddress",
    "InvalidAttachment",
    "InvalidHeader",
    "InvalidSetting",
    "MJMLError",
    "MailerConfigurationError",
    "Message",
    "MessageConfigurationError",
    "NoRecipients",
    "PermanentDeliveryError",
    "Rendered",
    "SentMessage",
    "TemplateNotFound",
    "TransientDeliveryError",
    "TxmailError",
    "UnknownMailer",
]
