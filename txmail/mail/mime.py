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

import binascii
import copy
import email
import email.message
import email.policy
import functools
import mimetypes
import re
from dataclasses import dataclass
from email import quoprimime
from email.contentmanager import ContentManager, raw_data_manager
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from pathlib import Path
from typing import Any

from django.core.mail import EmailMultiAlternatives

from ..exceptions import InvalidAttachment, InvalidHeader
from .headers import rewrite_address_headers
from .validation import check_cid, check_filename

DEFAULT_MIMETYPE = "application/octet-stream"
_SURROGATE = re.compile("[\ud800-\udfff]")


_MIMETYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")


def _split_mimetype(filename: str, mimetype: str | None) -> tuple[str, str]:
    mimetype = mimetype or mimetypes.guess_type(filename)[0] or DEFAULT_MIMETYPE
    maintype, _, subtype = mimetype.partition("/")
    return maintype, subtype


def _check_mimetype(owner: str, mimetype: object) -> None:
    # RFC 6838 names: anything else ends up inside the Content-Type header.
    if mimetype is not None and not (
        isinstance(mimetype, str) and _MIMETYPE.fullmatch(mimetype)
    ):
        raise InvalidHeader(
            f"{owner}: mimetype {mimetype!r} is not a MIME type. Give one like "
            "'application/pdf', or None to guess it from the file name."
        )


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message (``Content-Disposition: attachment``)."""

    filename: str
    content: bytes | str
    mimetype: str | None = None

    @classmethod
    def from_path(cls, path: str | Path, mimetype: str | None = None) -> "Attachment":
        """Attach the file at ``path`` under its own name."""
        path = Path(path)
        return cls(path.name, path.read_bytes(), mimetype)

    def __post_init__(self) -> None:
        owner = f"Attachment {self.filename!r}"
        check_filename("Attachment", self.filename)
        _check_mimetype(owner, self.mimetype)
        if not isinstance(self.content, str | bytes | bytearray):
            raise InvalidAttachment(f"{owner}: content must be bytes or str, not "
                                    f"{type(self.content).__name__}.")
        if isinstance(self.content, str) and _SURROGATE.search(self.content):
            raise InvalidAttachment(
                f"{owner}: content contains a lone surrogate, which no encoding can "
                "write. Decode the bytes it came from correctly (or with "
                "errors='replace'), or attach the bytes themselves."
            )
        maintype, subtype = _split_mimetype(self.filename, self.mimetype)
        if maintype == "multipart" or (maintype == "message" and subtype != "rfc822"):
            raise InvalidAttachment(
                f"{owner}: {maintype}/{subtype} can't be attached as a file (txmail "
                "builds the multipart structure itself). Attach it as "
                "'application/octet-stream', or an email as 'message/rfc822'."
            )

    def as_django_attachment(self) -> email.message.MIMEPart | tuple[str, bytes, str]:
        """What ``EmailMessage(attachments=...)`` takes; an email is given as a tuple.

        Django and anymail both handle ``(filename, bytes, "message/rfc822")``
        (anymail can't read a ``message/rfc822`` MIMEPart's content as bytes).
        """
        maintype, subtype = _split_mimetype(self.filename, self.mimetype)
        if maintype == "message":
            content = self.content
            raw = content.encode() if isinstance(content, str) else bytes(content)
            return (self.filename, raw, f"{maintype}/{subtype}")
        return self.as_mime_part()

    def as_mime_part(self) -> email.message.MIMEPart:
        """Return the attachment as a MIME part with its Content-Disposition."""
        part = email.message.MIMEPart(policy=email.policy.default)
        maintype, subtype = _split_mimetype(self.filename, self.mimetype)
        content = self.content
        raw = content.encode() if isinstance(content, str) else bytes(content)
        if maintype == "message":
            # An attached email is a message part (RFC 2046 5.2.1: never base64),
            # which readers open as an email.
            part.set_content(email.message_from_bytes(raw, policy=email.policy.default))
        elif maintype == "text":
            try:
                text = content if isinstance(content, str) else raw.decode()
            except UnicodeDecodeError:
                # Not UTF-8 and no charset known: the bytes as a file, as Django
                # does (text/* without a charset is read as ASCII, and mangled).
                part.set_content(raw, *DEFAULT_MIMETYPE.split("/"))
            else:
                part.set_content(text, subtype=subtype)
        else:
            part.set_content(raw, maintype, subtype)
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
        """Read the image at ``path``; the HTML shows it as ``<img src="cid:{cid}">``."""
        path = Path(path)
        return cls(cid, path.read_bytes(), mimetype, path.name)

    def __post_init__(self) -> None:
        check_cid("InlineImage", self.cid)
        if self.filename is not None:
            check_filename(f"InlineImage {self.cid!r}", self.filename)
        _check_mimetype(f"InlineImage {self.cid!r}", self.mimetype)
        if not isinstance(self.content, bytes | bytearray):
            raise TypeError(f"InlineImage {self.cid!r}: content must be bytes.")
        if not self.content_type.startswith("image/"):
            raise InvalidHeader(
                f"InlineImage {self.cid!r}: {self.content_type!r} is not an image type; "
                "attach other files with Attachment."
            )

    @property
    def content_type(self) -> str:
        """Return the image's MIME type, from ``mimetype`` or the file name."""
        maintype, subtype = _split_mimetype(self.filename or "", self.mimetype)
        return f"{maintype}/{subtype}"


def uses_quoted_printable(lines: list[bytes], policy: Any) -> bool:
    """Whether the stdlib's heuristics (contentmanager._encode_text) pick QP here."""
    limit = policy.max_line_length
    if limit is None:
        return False  # no limit: the stdlib never encodes
    if max(map(len, lines), default=0) <= limit:
        if policy.cte_type == "8bit" or all(line.isascii() for line in lines):
            return False  # 7bit or 8bit: nothing to encode
    if len(lines) <= 10:
        return False  # the stdlib only encodes its 10-line sniff: already cheap
    linesep = policy.linesep.encode("ascii")
    sniff = linesep.join(lines[:10]) + linesep
    sniff_qp = quoprimime.body_encode(sniff.decode("latin-1"), limit)
    return len(sniff_qp) <= len(binascii.b2a_base64(sniff))


def quoted_printable(lines: list[bytes]) -> str:
    """The body ``lines`` in quoted-printable, by C ``binascii`` (LF line breaks)."""
    return binascii.b2a_qp(b"\n".join(lines) + b"\n", istext=True).decode("ascii")


def set_text_fast(msg: email.message.MIMEPart, string: str, subtype: str = "plain",
                  charset: str = "utf-8", cte: str | None = None, **kwargs: Any) -> None:
    """The stdlib's text setter, with quoted-printable done by C ``binascii``.

    Same headers and same transfer-encoding choice; only the encoder differs:
    the stdlib's pure-Python quoprimime takes ~1.2 ms for a 45 KB HTML part,
    a quarter of building the whole MIME message.
    """
    lines = string.encode(charset).splitlines()
    if cte is not None or not uses_quoted_printable(lines, msg.policy):
        raw_data_manager.set_content(msg, string, subtype, charset, cte, **kwargs)
        return
    # The stdlib sets every header; then the payload is swapped for the C encoding.
    raw_data_manager.set_content(msg, "", subtype, charset, "7bit", **kwargs)
    msg.set_payload(quoted_printable(lines))
    msg.replace_header("Content-Transfer-Encoding", "quoted-printable")


_fast_content_manager = copy.deepcopy(raw_data_manager)
_fast_content_manager.add_set_handler(str, set_text_fast)


# RFC 2369's List-* headers hold "<url>, <url>" lists.
URL_LIST_HEADERS = frozenset({"list-unsubscribe", "list-subscribe", "list-help", "list-post",
                              "list-owner", "list-archive"})


class URLListHeader(UnstructuredHeader):
    """A List-* header, folded between its URLs and never encoded.

    The stdlib folds a word longer than a line into RFC 2047 encoded-words, and
    no client decodes those in a URL list: RFC 8058's one-click unsubscribe
    link, a signed URL of some 120 characters, would break. A URL stays whole
    on its line (RFC 5322 allows 998 octets).
    """

    def fold(self, *, policy: Any) -> str:
        value = str(self)
        if not value.isascii():
            return str(super().fold(policy=policy))  # type: ignore[misc]  # BaseHeader's
        items = [item.strip() for item in value.split(",") if item.strip()]
        name = self.name  # type: ignore[attr-defined]  # BaseHeader's, mixed in
        return f"{name}: " + ("," + policy.linesep + " ").join(items) + policy.linesep


class HeaderClasses:
    """A policy's header registry that builds each header class once.

    ``HeaderRegistry.__getitem__`` creates a new class with ``type()`` for
    every header it parses: some 30 per email, a tenth of building one. This
    wraps the policy's own registry and reads its mapping on every lookup, so
    ``map_to_type()`` on it still counts; the classes are cached by the class
    the registry maps to.
    """

    def __init__(self, base: HeaderRegistry) -> None:
        self.base = base
        self._classes: dict[type, type] = {}

    def __getitem__(self, name: str) -> type:
        mapped = self.base.registry.get(name.lower(), self.base.default_class)
        if mapped is self.base.default_class and name.lower() in URL_LIST_HEADERS:
            mapped = URLListHeader  # unless the project mapped it to its own class
        cls = self._classes.get(mapped)
        if cls is None:
            if mapped is URLListHeader:
                cls = type("_URLListHeader", (URLListHeader, self.base.base_class), {})
            else:
                cls = self.base[name]
            self._classes[mapped] = cls
        return cls

    def __call__(self, name: str, value: Any) -> Any:
        return self[name](name, value)

    def map_to_type(self, name: str, cls: type) -> None:
        self.base.map_to_type(name, cls)

    def __getstate__(self) -> dict[str, Any]:
        # The built classes exist only in this process (pickled messages
        # carry their policy): rebuild them after unpickling.
        return {"base": self.base, "_classes": {}}


@functools.cache
def fast_policy(policy: Any) -> Any:
    """``policy`` with txmail's text encoder and header classes built once.

    Policies are immutable: one clone each. Output is the same bytes.
    """
    if not isinstance(getattr(policy, "content_manager", None), ContentManager):
        return policy  # a compat32 policy has no content manager to replace
    changes: dict[str, Any] = {"content_manager": _fast_content_manager}
    if type(policy.header_factory) is HeaderRegistry:  # not one of the project's own
        changes["header_factory"] = HeaderClasses(policy.header_factory)
    return policy.clone(**changes)


class TxEmailMessage(EmailMultiAlternatives):
    """EmailMultiAlternatives that places inline images beside the HTML part."""

    def __init__(self, *args: Any, inline_images: list[InlineImage] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inline_images = list(inline_images or [])

    def message(self, *, policy: Any = email.policy.default) -> Any:
        msg = super().message(policy=fast_policy(policy))
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
        rewrite_address_headers(msg)
        return msg
