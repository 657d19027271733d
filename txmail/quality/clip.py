"""Gmail's clip: HTML over 102 KB is cut off behind "[Message clipped]" (code ``gmail-clip``).

The other checks every client needs live with their kind: alt text and the
language in ``accessibility``, relative URLs in ``links``.
"""

from collections.abc import Iterator

from .clients import chosen
from .findings import Finding, Severity
from .variant import Variant

# Gmail clips messages whose HTML is larger than this and hides the rest
# behind "[Message clipped] View entire message".
GMAIL_CLIP_BYTES = 102 * 1024


def clip(html: str, clients: tuple[str, ...] = ()) -> Iterator[Finding]:
    size = len(html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        yield Finding(
            "gmail-clip", f"The HTML is {size / 1024:.0f} KB, over Gmail's 102 KB: Gmail "
            'clips it and readers see "[Message clipped]", losing what follows '
            "(often the unsubscribe link).",
            "Trim markup (repeated inline styles, comments) or move content to a web page.",
            Severity.WARNING, "html", clients or ("gmail",))


def check(variant: Variant) -> Iterator[Finding]:
    """A ``gmail-clip`` finding when ``variant``'s HTML is over Gmail's limit."""
    if not variant.html:
        return
    gmail = tuple(client.name for client in chosen(variant.clients)
                  if any(key.startswith("gmail.") for key in client.keys))
    yield from clip(variant.html, gmail)
