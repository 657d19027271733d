"""Every ingress ends here: ``store()`` writes the row and hands it to a worker on commit.

The row is the message's safe place: once it is committed the ingress may say
"accepted" (250, exit 0, HTTP 200). A hand-off that fails leaves it
``received``, and the sweep (``process.sweep()``) hands it off again.
Above ``TXMAIL["INBOUND"]["MAX_SIZE"]`` nothing is stored (``TooLarge``).
"""

import email.policy
import logging
from email.parser import BytesHeaderParser
from functools import partial

from django.db import router, transaction

from ..signals import inbound_received
from . import configured
from .models import InboundMessage
from .process import hand_off

logger = logging.getLogger("txmail.inbound")


class TooLarge(ValueError):
    """A message above ``TXMAIL["INBOUND"]["MAX_SIZE"]`` bytes."""


def headers_of(raw: bytes) -> dict[str, str]:
    """Message-ID, Subject and From of ``raw``, each '' when absent or unreadable."""
    try:
        parsed = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
    except Exception:  # a message too broken to parse is still stored, for a look
        return {"message_id": "", "subject": "", "from_header": ""}
    found = {}
    for field, header in (("message_id", "Message-ID"), ("subject", "Subject"),
                          ("from_header", "From")):
        try:
            found[field] = str(parsed.get(header, "") or "").strip()
        except Exception:  # a header the parser can't decode
            found[field] = ""
    found["message_id"] = found["message_id"][:998]
    return found


def store(raw: bytes, *, recipient: str, sender: str = "", source: str = "") -> InboundMessage:
    """Store ``raw`` for envelope ``recipient``; a worker processes it once committed.

    Raises ``TooLarge`` above ``TXMAIL["INBOUND"]["MAX_SIZE"]``.
    """
    limit = int(configured.setting("MAX_SIZE"))
    if len(raw) > limit:
        raise TooLarge(f"The message is {len(raw)} bytes, above TXMAIL['INBOUND']['MAX_SIZE'] "
                       f"({limit} bytes).")
    row = InboundMessage.objects.create(
        raw=raw, size=len(raw), envelope_recipient=recipient.strip()[:998],
        envelope_sender=(sender or "").strip()[:998], source=source[:100], **headers_of(raw))
    inbound_received.send(sender=source, inbound=row)
    transaction.on_commit(partial(hand_off, row.pk), using=router.db_for_write(InboundMessage))
    return row
