"""Message classes for the preview UI tests only.

Not in emails.py on purpose: they are registered by the preview tests'
fixtures (``registered()``), so other tests see the registry unchanged.
"""

import base64
from collections.abc import Sequence
from contextlib import AbstractContextManager

from django.contrib.auth.models import User

from txmail import Attachment, InlineImage
from txmail.message import Message

from .emails import BaseTestMessage
from .registration import registered_classes

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n% txmail test attachment\n"


class Rich(BaseTestMessage):
    """HTML with an inline image, an attachment, dark styles and lint problems.

    Second docstring line, not shown in the index.
    """

    template_name = "testapp/preview/rich"
    subject = "Your order {{ order.code }}"
    cc = ("cc@example.com",)
    bcc = ("audit@example.com",)
    reply_to = ("help@example.com",)

    @classmethod
    def preview(cls, name="Ann", code="A-1"):
        order = {"code": code}
        return cls(
            to=["ann@example.com"],
            context={"name": name, "order": order},
            attachments=[
                Attachment("terms.pdf", PDF, "application/pdf"),
                InlineImage("logo", PNG, "image/png", "logo.png"),
            ],
        )

    @classmethod
    def preview_huge(cls):
        instance = cls.preview()
        instance.extra_context["padding"] = "lorem ipsum " * 10_000  # ~120 KB
        return instance

    @classmethod
    def preview_anything(cls, **kwargs):
        return cls(to=["any@example.com"], context={"name": repr(sorted(kwargs.items())),
                                                    "order": {"code": "K"}})


class Scripted(BaseTestMessage):
    """A template that tries to run scripts in the preview."""

    template_name = "testapp/preview/scripted"
    subject = "Scripted"

    @classmethod
    def preview(cls):
        return cls(to=["ann@example.com"])


class Exploding(BaseTestMessage):
    """Its preview factory raises."""

    template_name = "testapp/emails/promo"
    subject = "Never"

    @classmethod
    def preview(cls):
        raise RuntimeError("sample data exploded")


class MissingTemplate(BaseTestMessage):
    """Its template does not exist."""

    template_name = "testapp/preview/does_not_exist"
    subject = "Never"

    @classmethod
    def preview(cls):
        return cls(to=["ann@example.com"])


class DbWriter(BaseTestMessage):
    """Its preview saves a row: the preview must roll it back."""

    template_name = "testapp/emails/promo"
    subject = "Hello {{ name }}"

    @classmethod
    def preview(cls):
        user = User.objects.create(username="preview-writer")
        return cls(to=["ann@example.com"], context={"name": user.username})


class Bare(BaseTestMessage):
    """Has no preview method."""

    template_name = "testapp/emails/promo"
    subject = "Bare"


class German(BaseTestMessage):
    """Overrides get_language(): always German."""

    template_name = "testapp/preview/rich"
    subject = "Hallo"

    def get_language(self):
        return "de"

    @classmethod
    def preview(cls):
        return cls(to=["ann@example.com"], context={"name": "Jo", "order": {"code": "D"}})


class Pinned(BaseTestMessage):
    """Its recipients come from get_to(), not ``to``."""

    template_name = "testapp/emails/promo"
    subject = "Pinned"

    def get_to(self):
        return ["customer@example.com"]

    def get_cc(self):
        return ["manager@example.com"]

    @classmethod
    def preview(cls):
        return cls(context={"name": "Pat"})


CLASSES = [Rich, Scripted, Exploding, MissingTemplate, DbWriter, Bare, German, Pinned]


def registered() -> AbstractContextManager[Sequence[type[Message]]]:
    """Register the preview test classes for the duration of the block."""
    return registered_classes(CLASSES)
