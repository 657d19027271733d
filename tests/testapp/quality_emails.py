"""Message classes for the quality tests only, registered by their fixtures (``registered()``)."""

from collections.abc import Sequence
from contextlib import AbstractContextManager

from txmail.message import Message

from .emails import BaseTestMessage
from .registration import registered_classes


class Flexbox(BaseTestMessage):
    """Plain HTML with flexbox, a dark-mode query and a relative link."""

    template_name = "testapp/quality/flexbox"
    subject = "Flex"

    @classmethod
    def preview(cls):
        return cls(to=["ann@example.com"], context={"name": "Ann"})


class Columns(BaseTestMessage):
    """MJML: two columns and a button (MJML's responsive CSS and Outlook tables)."""

    template_name = "testapp/quality/columns"
    subject = "Columns"

    @classmethod
    def preview(cls):
        return cls(to=["ann@example.com"], context={"name": "Ann"})


CLASSES = (Flexbox, Columns)


def registered() -> AbstractContextManager[Sequence[type[Message]]]:
    """Register the quality test classes for the duration of the block."""
    return registered_classes(CLASSES)
