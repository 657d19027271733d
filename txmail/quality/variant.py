"""``Variant``: one rendered message as the checks read it."""

from dataclasses import dataclass, field
from typing import Literal

from ..conf import txmail_settings
from ..draft import Rendered
from ..sites import get_site_url


@dataclass(frozen=True)
class Variant:
    """What a variant rendered to, and the project settings the checks need.

    ``message`` names the class (``"shop.OrderReceipt"``) and ``variant`` the
    preview variant; ``kind`` is ``"bulk"`` for a ``BulkMessage`` (the spam and
    unsubscribe checks read it). ``clients`` are ``TXMAIL["CLIENTS"]``'s names.
    ``raw`` is the MIME message as txmail sends it (the spam check scores it);
    without it the spam check builds a plain one from the parts.
    """

    html: str
    text: str = ""
    subject: str = ""
    language: str = ""
    message: str = ""
    variant: str = ""
    kind: Literal["transactional", "bulk"] = "transactional"
    clients: tuple[str, ...] = field(default=())
    site_url: str = ""  # TXMAIL["SITE_URL"] or the current Site's; "" when unknown
    raw: bytes | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """``shop.OrderReceipt (default)``, for reports."""
        return f"{self.message} ({self.variant})" if self.variant else self.message


def variant_of(rendered: Rendered, *, message: str = "", variant: str = "",
               kind: Literal["transactional", "bulk"] = "transactional",
               clients: tuple[str, ...] | None = None, raw: bytes | None = None) -> Variant:
    """The ``Variant`` the checks read for ``rendered``, with the project's settings.

    ``raw`` is the message's MIME bytes (``Preview.raw``, ``message().as_bytes()``).
    """
    try:
        site = get_site_url()
    except Exception:  # no base URL configured: the checks that need one say so
        site = ""
    return Variant(
        html=rendered.html, text=rendered.text, subject=rendered.subject,
        language=rendered.language or "", message=message, variant=variant, kind=kind,
        clients=tuple(txmail_settings.CLIENTS) if clients is None else clients,
        site_url=site, raw=raw)
