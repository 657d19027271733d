"""The preference centre: the topics an address may receive, its opt-outs, its signed link.

The topics are every registered class's ``DeliveryOptions.topic`` and the keys
of ``TXMAIL["TOPICS"]`` (which gives them labels and descriptions, and lists
topics a ``get_delivery_options()`` chooses at send time), plus any topic the
address unsubscribed from. A topic whose classes are all ``critical`` is
listed as always sent, with no switch.

An opt-out is a suppression entry of the topic with ``Reason.UNSUBSCRIBED``
(the one-click link makes the same); "unsubscribe from everything" is that
entry without a topic. Opting in removes only such an entry: a hard bounce, a
complaint or an entry added by hand stays, whatever the address chooses.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import router, transaction
from django.urls import NoReverseMatch, reverse

from ..conf import txmail_settings
from ..exceptions import MessageConfigurationError
from ..registry import message_classes
from ..sites import absolute
from ..suppression.check import bare, matching
from ..suppression.models import Reason, Suppression
from .tokens import make_preferences_token

URL_NAME = "txmail_bulk:preferences"


@dataclass(frozen=True)
class Topic:
    """One line of the page: a topic and what the address's entries say of it."""

    name: str
    label: str
    description: str = ""
    # Every registered class of the topic is critical: sent whatever is chosen.
    always: bool = False
    # No opt-out of the topic (nor of everything) is recorded for the address.
    subscribed: bool = True
    # Other entries stopping it, in words (hard bounce, added by hand): opting
    # in doesn't lift them.
    blocked: tuple[str, ...] = ()


def topics() -> list[Topic]:
    """The topics the page lists: ``TXMAIL["TOPICS"]`` in order, then the classes' by name."""
    configured = txmail_settings.TOPICS
    critical: dict[str, bool] = {}
    for cls in message_classes().values():
        options = cls.delivery_options
        if options.topic:
            critical[options.topic] = critical.get(options.topic, True) and options.critical
    names = [*configured, *sorted(set(critical) - set(configured))]
    return [Topic(name=name, label=configured.get(name, {}).get("label") or label_of(name),
                  description=configured.get(name, {}).get("description", ""),
                  always=critical.get(name, False)) for name in names]


def label_of(topic: str) -> str:
    """A topic's name as a label: ``"product-news"`` → ``"Product news"``."""
    words = topic.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def critical_classes() -> list[str]:
    """The registry names of the critical classes (``DeliveryOptions.critical``)."""
    return [name for name, cls in message_classes().items() if cls.delivery_options.critical]


@dataclass(frozen=True)
class Preferences:
    """What the page shows for one address."""

    address: str
    topics: list[Topic]
    # "Unsubscribe from everything" is recorded (no topic, Reason.UNSUBSCRIBED).
    everything: bool
    # Entries stopping every message (hard bounce, complaint, by hand), in words.
    blocked: tuple[str, ...]


def preferences_of(address: str) -> Preferences:
    """Return the topics with the address's state (one query)."""
    # matching(): an erased address's entries are its hash (txmail.erase).
    entries = list(Suppression.objects.filter(matching(address)))
    opted_out = {e.topic for e in entries if e.reason == Reason.UNSUBSCRIBED}
    listed = topics()
    known = {t.name for t in listed}
    # A topic it left through a link and no class names any more: it may come back.
    listed += [Topic(name=name, label=label_of(name))
               for name in sorted(opted_out - known - {""})]
    lines = [Topic(name=t.name, label=t.label, description=t.description, always=t.always,
                   subscribed=t.name not in opted_out,
                   blocked=tuple(e.get_reason_display() for e in entries
                                 if e.topic == t.name and e.reason != Reason.UNSUBSCRIBED))
             for t in listed]
    return Preferences(
        address=bare(address), topics=lines, everything="" in opted_out,
        blocked=tuple(e.get_reason_display() for e in entries
                      if not e.topic and e.reason != Reason.UNSUBSCRIBED))


def save(address: str, subscribed: Iterable[str], *, everything: bool,
         source: str = "preference centre") -> None:
    """Record the page's choices: ``subscribed`` topics in, the other listed ones out.

    Topics that are always sent are left alone, and so is anything not listed.
    """
    wanted = set(subscribed)
    with transaction.atomic(using=router.db_for_write(Suppression)):
        for topic in preferences_of(address).topics:
            if topic.always:
                continue
            if topic.name in wanted:
                opt_in(address, topic.name)
            else:
                opt_out(address, topic.name, source=source)
        if everything:
            opt_out(address, "", source=source)
        else:
            opt_in(address, "")


def opt_out(address: str, topic: str, *, source: str) -> None:
    """Record an opt-out of ``topic`` ("": everything), idempotent.

    An entry the topic has for another reason (a bounce, by hand) is kept as
    it is: opting in must not remove it.
    """
    what = f"the topic {topic!r}" if topic else "everything"
    if Suppression.objects.filter(matching(address), topic=topic).exists():
        return  # an erased address's entry too: the address isn't stored again
    Suppression.objects.get_or_create(
        address=bare(address), topic=topic,
        defaults={"reason": Reason.UNSUBSCRIBED, "source": source,
                  "description": f"Unsubscribed from {what} through the {source}."})


def opt_in(address: str, topic: str) -> None:
    """Remove the opt-out of ``topic`` ("": everything): only an entry an opt-out made."""
    Suppression.objects.filter(matching(address), topic=topic,
                               reason=Reason.UNSUBSCRIBED).delete()


def preferences_path(address: str) -> str | None:
    """The preference centre's path for ``address``, or None where it isn't routed."""
    try:
        return reverse(URL_NAME, kwargs={"token": make_preferences_token(address)})
    except NoReverseMatch:
        return None


def preferences_url(address: str) -> str:
    """Return the signed absolute URL of ``address``'s preference centre."""
    path = preferences_path(address)
    if path is None:
        raise MessageConfigurationError(
            "The preference centre's URL needs txmail's bulk URLs: add "
            "path('email/', include('txmail.bulk.urls')) to your URLconf.")
    return absolute(path)
