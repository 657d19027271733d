"""Build the outgoing MIME message: parts, attachments and inline (cid) images.

Structure (RFC 2046/2387), text first so clients that prefer the last
alternative show the HTML:

    multipart/mixed                      (only with attachments)
      multipart/alternative
        text/plain
        multipart/related                (only with inline images)
          text/html
          image/png; Content-ID: <logo>
      application/pdf; attachment
"""

import email.message
import email.policy
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.mail import EmailMultiAlternatives

DEFAULT_MIMETYPE = "application/octet-stream"


def _split_mimetype(filename: str, mimetype: str | None) -> tuple[str, str]:
    mimetype = mimetype or mimetypes.guess_type(filename)[0] or DEFAULT_MIMETYPE
    maintype, _, subtype = mimetype.partition("/")
    return maintype, subtype


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message (``Content-Disposition: attachment``)."""

    filename: str
    content: bytes | str
    mimetype: str | None = None

    @classmethod
    def from_path(cls, path: str | Path, mimetype: str | None = None) -> "Attachment":
        path = Path(path)
        return cls(path.name, path.read_bytes(), mimetype)

    def as_mime_part(self) -> email.message.MIMEPart:
        part = email.message.MIMEPart(policy=email.policy.default)
        maintype, subtype = _split_mimetype(self.filename, self.mimetype)
        if isinstance(self.content, str):
            if maintype == "text":
                part.set_content(self.content, subtype=subtype)
            else:
                part.set_content(self.content.encode(), maintype, subtype)
        else:
            if maintype == "text":
                # The stdlib content manager only takes str for text/*.
                part.set_content(self.content.decode(), subtype=subtype)
            else:
                part.set_content(self.content, maintype, subtype)
        part.add_header("Content-Disposition", "attachment", filename=self.filename)
        return part


@dataclass(frozen=True)
class InlineImage:
    """An image shown inside the HTML as ``<img src="cid:{cid}">``."""

    cid: str
    content: bytes
    mimetype: str | None = None
    filename: str | None = None

    @classmethod
    def from_path(
        cls, cid: str, path: str | Path, mimetype: str | None = None
    ) -> "InlineImage":
        path = Path(path)
        return cls(cid, path.read_bytes(), mimetype, path.name)

    def __post_init__(self) -> None:
        if not isinstance(self.content, bytes | bytearray):
            raise TypeError(f"InlineImage {self.cid!r}: content must be bytes.")
        if not self.content_type.startswith("image/"):
            raise ValueError(
                f"InlineImage {self.cid!r}: {self.content_type!r} is not an image type; "
                "attach other files with Attachment."
            )

    @property
    def content_type(self) -> str:
        maintype, subtype = _split_mimetype(self.filename or "", self.mimetype)
        return f"{maintype}/{subtype}"


class TxEmailMessage(EmailMultiAlternatives):
    """EmailMultiAlternatives that places inline images beside the HTML part."""

    def __init__(self, *args: Any, inline_images: list[InlineImage] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inline_images = list(inline_images or [])

    def message(self, *, policy: Any = email.policy.default) -> Any:
        msg = super().message(policy=policy)
        if self.inline_images:
            html_part = msg.get_body(preferencelist=("html",))
            if html_part is None:
                raise ValueError("Inline images need an HTML part to be shown in.")
            for image in self.inline_images:
                maintype, _, subtype = image.content_type.partition("/")
                html_part.add_related(
                    image.content, maintype, subtype,
                    cid=f"<{image.cid}>",
                    disposition="inline",
                    filename=image.filename or image.cid,
                )
        return msg
