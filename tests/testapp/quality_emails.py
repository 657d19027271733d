"""Message classes for the quality tests only, registered by their fixtures (``registered()``)."""

from contextlib import contextmanager

from txmail.registry import register, unregister

from .emails import BaseTestMessage


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


@contextmanager
def registered():
    """Register the quality test classes for the duration of the block."""
    for cls in CLASSES:
        register(cls)
    try:
        yield CLASSES
    finally:
        for cls in CLASSES:
            unregister(cls)
