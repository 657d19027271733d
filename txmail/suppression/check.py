"""Drop suppressed recipients from a built email, per recipient, before it goes out."""

from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from ..addresses import canonical
from .erased import hashes_of, with_hashes
from .models import Reason, Suppression


def bare(address: str) -> str:
    """The form the list stores ``"Name <addr>"`` in: lowercased, IDNA domain.

    ``ann@bücher.example`` and ``ann@xn--bcher-kva.example`` are one entry.
    """
    return canonical(address)


def matching(address: str) -> Q:
    """The entries of ``address``: in any spelling, and those erased to its hash."""
    return Q(address__in=[bare(address), *hashes_of(address)])


def suppressed_among(addresses: Iterable[str]) -> set[str]:
    """The bare addresses among ``addresses`` with any suppression entry (one query).

    An erased address's entry (its hash: ``erased``) counts as the address's.
    """
    wanted = with_hashes(addresses)
    if not wanted:
        return set()
    return {wanted[found] for found in Suppression.objects.filter(
        address__in=list(wanted)).values_list("address", flat=True)}


def filter_recipients(email: Any, topic: str = "", *, critical: bool = False) -> dict[str, str]:
    """Remove suppressed addresses from ``email``'s To, Cc, Bcc and envelope.

    Entries without a topic apply to every email; an entry with one (an
    unsubscribe from a list) only to emails of that ``topic``. A ``critical``
    email (a password reset) ignores opt-outs, the topic's and "everything"
    (``Reason.UNSUBSCRIBED``), never bounces, complaints or entries by hand.

    Return ``{address: reason}`` for those removed (empty when none were). The
    email is changed in place, so every backend sees only the others: SMTP
    backends send to ``recipients()``, API backends to ``to``/``cc``/``bcc``.
    A stored email's header bytes still list everyone, as with Bcc: only the
    envelope decides who receives it.
    """
    by_bare = {bare(r): r for r in email.recipients()}
    topics = Q(topic="") | Q(topic=topic) if topic else Q(topic="")
    if critical:
        topics &= ~Q(reason=Reason.UNSUBSCRIBED)
    wanted = with_hashes(by_bare)  # an erased address is listed as its hash
    found = {wanted[stored]: reason for stored, reason in Suppression.objects.filter(
        topics, address__in=list(wanted)).order_by("-topic").values_list("address", "reason")}
    if not found:
        return {}

    def keep(addresses: Any) -> list[str]:
        return [a for a in addresses if bare(a) not in found]

    email.to, email.cc, email.bcc = keep(email.to), keep(email.cc), keep(email.bcc)
    if hasattr(email, "envelope_recipients"):  # stored.FrozenEmail
        email.envelope_recipients = keep(email.envelope_recipients)
    return {by_bare[a]: reason for a, reason in found.items()}


def describe(suppressed: dict[str, str]) -> str:
    """``suppressed`` in words, for the delivery log."""
    labels = dict(Reason.choices)
    return "Not sent to suppressed addresses: " + "; ".join(
        f"{address} ({labels.get(reason, reason)})" for address, reason in suppressed.items())


def suppress(address: str, reason: str, *, description: str = "", source: str = "",
             delivery: Any = None, topic: str = "") -> Suppression:
    """Add ``address`` to the list (for ``topic`` only, if given), or update its entry."""
    entry, _created = Suppression.objects.update_or_create(
        address=bare(address), topic=topic,
        defaults={"reason": reason, "description": description, "source": source,
                  "delivery": delivery},
    )
    return entry
