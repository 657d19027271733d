"""txmail: templated transactional email for Django.

    from txmail import Message

    class Welcome(Message):
        template_name = "emails/welcome"
        subject = "Welcome, {{ user.first_name }}"
"""

from typing import TYPE_CHECKING, Any

from .backends.transport import SentMessage
from .draft import DeliveryOptions, Draft, Rendered
from .exceptions import (
    CancelSend,
    DeliveryError,
    DeliveryOutcomeUnknown,
    ErasureBlocked,
    HeaderInjection,
    InvalidAddress,
    InvalidAttachment,
    InvalidHeader,
    InvalidSetting,
    MailerConfigurationError,
    MessageConfigurationError,
    MJMLError,
    NoRecipients,
    NotInstalled,
    NotMigrated,
    PermanentDeliveryError,
    RateLimited,
    TemplateNotFound,
    TransientDeliveryError,
    TxmailError,
    UndefinedVariable,
    UnknownMailer,
)
from .installed import check_installed  # noqa: F401  (registers it: txmail.E005)
from .mail.mime import Attachment, InlineImage
from .message import Message
from .registry import warm_up
from .schedule import LocalTime, local_time

if TYPE_CHECKING:
    from .bulk.bulk_message import BulkMessage
    from .delivery.handle import Queued
    from .erasure.erase import erase

# Names whose modules need the app registry (they import models): imported
# on first use, so ``import txmail`` works while INSTALLED_APPS is loading.
_LAZY = {"BulkMessage": "txmail.bulk.bulk_message", "Queued": "txmail.delivery.handle",
         "erase": "txmail.erasure.erase"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'txmail' has no attribute {name!r}")


__all__ = [
    "Attachment",
    "BulkMessage",
    "CancelSend",
    "DeliveryError",
    "DeliveryOptions",
    "DeliveryOutcomeUnknown",
    "Draft",
    "ErasureBlocked",
    "HeaderInjection",
    "InlineImage",
    "InvalidAddress",
    "InvalidAttachment",
    "InvalidHeader",
    "InvalidSetting",
    "LocalTime",
    "MJMLError",
    "MailerConfigurationError",
    "Message",
    "MessageConfigurationError",
    "NoRecipients",
    "NotInstalled",
    "NotMigrated",
    "PermanentDeliveryError",
    "Queued",
    "RateLimited",
    "Rendered",
    "SentMessage",
    "TemplateNotFound",
    "TransientDeliveryError",
    "TxmailError",
    "UndefinedVariable",
    "UnknownMailer",
    "erase",
    "local_time",
    "warm_up",
]
