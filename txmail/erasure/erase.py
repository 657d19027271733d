"""``erase(address)``: remove an address from every txmail table but keep it suppressed.

What goes, for an address in any case or spelling of its domain:

- every delivery row that names it anywhere (recipient, sender, subject, error,
  options, stored body), whole, with its events: a row to several people is
  deleted for all of them, since its body and headers name them all;
- every provider event that names it;
- every campaign recipient row of those deliveries, and a finished campaign
  whose arguments, query or key ranges name it (``erase()`` refuses, before
  changing anything, while such a campaign runs);
- its suppression entries keep their topic, reason, source and date, with the
  address replaced by its keyed hash (``suppression.erased``) and the
  provider's description (which may quote it) replaced by a note;
- every idempotency key that names it (``"welcome/ann@example.com"``): a
  duplicate call after the erasure sends again;
- a mailer's slow-down reason that quotes it (a server's reply to RCPT) is
  replaced by a note; the alias stays held back as long;
- every row of a table in ``WHOLE_ROWS`` that names it (inbound mail), whole.

Last, every column of every txmail table is searched again (``traces``): what
is left (a table txmail doesn't know how to erase from yet) is in the result
as ``left``, and the command fails.
"""

import datetime
from collections.abc import Iterable
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from ..addresses import canonical
from ..backends.models import MailerRate
from ..bulk.models import Campaign, CampaignStatus, Chunk, Recipient
from ..delivery.idempotency import IdempotencyKey
from ..delivery.models import Body, Delivery
from ..exceptions import ErasureBlocked, InvalidAddress
from ..suppression.check import matching
from ..suppression.erased import address_hash, is_hash
from ..suppression.models import Suppression
from ..webhooks.models import DeliveryEvent
from .traces import Matcher, Trace, find, traces_of

BATCH = 500  # rows per DELETE
# Tables of the layers above this one whose rows naming an address are deleted whole,
# under the name they are counted by; they add themselves (``TxmailConfig.ready()``).
WHOLE_ROWS: dict[str, type[models.Model]] = {}


def _naming(model: Any, matcher: Matcher) -> set[Any]:
    return {trace.pk for trace in find(model, matcher)}


def _delete(model: Any, pks: Iterable[Any]) -> int:
    pks, deleted = list(pks), 0
    for start in range(0, len(pks), BATCH):
        # only("pk"): the collector need not load a row's bytes to delete it.
        rows = model._default_manager.filter(pk__in=pks[start:start + BATCH]).only("pk")
        deleted += rows.delete()[1].get(model._meta.label, 0)
    return deleted


def erase(address: str, *, dry_run: bool = False) -> dict[str, Any]:
    """Remove ``address`` from every txmail table; keep its suppressions as hashes.

    Return how many rows of each kind went (``dry_run``: would go), and
    ``left``: the places still naming it (a list of ``traces.Trace``; empty
    once it is all gone).
    """
    bare = canonical(address)
    if "@" not in bare or is_hash(bare):
        raise InvalidAddress(f"{address!r} isn't an email address: nothing was erased. Give "
                             "the address as it was sent to, e.g. 'ann@example.com'.")
    matcher = Matcher(bare)
    campaigns = _naming(Campaign, matcher) | set(
        Chunk.objects.filter(pk__in=_naming(Chunk, matcher)).values_list("campaign", flat=True))
    running = sorted(Campaign.objects.filter(pk__in=campaigns, status=CampaignStatus.RUNNING)
                     .values_list("pk", flat=True))
    if running:
        raise ErasureBlocked(
            f"Campaign {', '.join(map(str, running))} names {bare!r} in its arguments, query "
            "or key ranges and is still running: nothing was erased. Cancel it (`manage.py "
            "txmail campaign cancel ID`) or wait until it finishes, then erase again.")
    # A body names its delivery: the row goes with it.
    deliveries = _naming(Delivery, matcher) | _naming(Body, matcher)
    events = _naming(DeliveryEvent, matcher) | set(
        DeliveryEvent.objects.filter(delivery__in=deliveries).values_list("pk", flat=True))
    recipients = _naming(Recipient, matcher) | set(
        Recipient.objects.filter(delivery__in=deliveries).values_list("pk", flat=True))
    mine = matching(bare)
    entries = Suppression.objects.filter(mine)
    mentions = Suppression.objects.filter(pk__in=_naming(Suppression, matcher)).exclude(mine)
    keys = _naming(IdempotencyKey, matcher)
    rates = MailerRate.objects.filter(pk__in=_naming(MailerRate, matcher))
    whole = {name: _naming(model, matcher) for name, model in WHOLE_ROWS.items()}
    counts: dict[str, Any] = {
        "deliveries": len(deliveries), "events": len(events),
        "campaign recipients": len(recipients), "campaigns": len(campaigns),
        "suppressions hashed": entries.filter(address=bare).count(),
        "suppression descriptions cleared": mentions.count(),
        "idempotency keys": len(keys), "mailer hold-backs cleared": rates.count(),
        **{name: len(pks) for name, pks in whole.items() if pks},  # counted when found
    }
    if dry_run:
        counts["left"] = []
        return counts
    with transaction.atomic():
        _delete(Recipient, recipients)  # first: deleting a delivery only unlinks its row
        _delete(DeliveryEvent, events)
        _delete(Delivery, deliveries)
        _delete(Campaign, campaigns)  # with its chunks and recipient rows
        _hash_entries(bare, entries)
        mentions.update(description=_note("Description cleared: it named an erased address"))
        _delete(IdempotencyKey, keys)
        rates.update(blocked_reason=_note("Reason cleared: it named an erased address"))
        for name, model in WHOLE_ROWS.items():
            _delete(model, whole[name])
    counts["left"] = traces_of(bare)
    return counts


def _note(what: str = "Address erased; kept as a keyed hash") -> str:
    today = timezone.now().astimezone(datetime.UTC).date().isoformat()
    return f"{what} (txmail.erase, {today})."


def _hash_entries(bare: str, entries: Any) -> None:
    """Replace ``bare`` by its hash in its entries (one per topic), as it says.

    An entry of a topic that already has a hashed one (erased before, then
    listed again) is deleted: the hashed one suppresses it.
    """
    digest = address_hash(bare)
    hashed = set(entries.filter(address=digest).values_list("topic", flat=True))
    entries.filter(address=bare, topic__in=hashed).delete()
    entries.filter(address=bare).update(address=digest, description=_note(), delivery=None)


def describe(counts: dict[str, Any]) -> list[str]:
    """``erase()``'s counts, one line each."""
    return [f"{name}: {n}" for name, n in counts.items() if name != "left"]


def describe_left(left: list[Trace]) -> str:
    """Where the address is still found, in words, with the fix."""
    places = sorted({f"{t.model._meta.db_table}.{t.field}" for t in left})
    return (f"The address is still found in {len(left)} row(s): {', '.join(places)}. "
            "txmail doesn't know how to erase it from there: delete those rows by hand, and "
            "report it as a txmail bug.")
