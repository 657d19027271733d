"""``BulkMessage``: a message sent to many (a newsletter), with one-click unsubscribe.

    class Newsletter(BulkMessage):
        template_name = "emails/newsletter"
        delivery_options = DeliveryOptions(topic="newsletter")

    campaign = Newsletter.send_bulk(Customer.objects.filter(opted_in=True),
                                    title="June", articles=[...])

Each message carries RFC 8058's headers, ``List-Unsubscribe`` (a signed
per-recipient https URL, plus a ``mailto:`` where configured) and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``, and its template gets
``{{ unsubscribe_url }}`` for the visible link and ``{{ preferences_url }}`` for
the recipient's preference centre (``txmail.bulk.preferences``). An unsubscribe is stored on the
suppression list for the message's topic, so it stops this list only.
Transactional classes (plain ``Message``) get none of this.
"""

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit

from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.encoding import punycode

from ..conf import txmail_settings
from ..exceptions import MessageConfigurationError
from ..kinds import MAILTO_ADDRESS
from ..message import Message
from ..sites import absolute
from ..suppression.check import bare
from .preferences import preferences_url
from .tokens import make_token

if TYPE_CHECKING:
    from ..draft import Draft
    from .models import Campaign

URL_NAME = "txmail_bulk:unsubscribe"


def _one_click_capable(url: str) -> bool:
    """Whether ``url`` may be offered for one-click unsubscribe (RFC 8058 section 3.1).

    One-click needs an https URL. Loopback hosts, which no mailbox provider can
    reach, keep the header so development shows what production sends.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme == "https" or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mailto_uri(address: str, subject: str) -> str:
    """Return ``mailto:<address>?subject=<subject>``, percent-encoded as RFC 6068 asks.

    ``address`` must be one addr-spec (``MAILTO_ADDRESS``). Its local part keeps
    only RFC 6068's unreserved characters and "some-delims" ('/', '?', '#', '%',
    '&' or '=' would end the address or start a header field); the domain is
    written in IDNA, since a header is ASCII; the subject is encoded whole.
    """
    local, _at, domain = address.rpartition("@")
    local = quote(local, safe="!$'*+")
    return f"mailto:{local}@{punycode(domain)}?subject={quote(subject, safe='')}"


class BulkMessage(Message):
    """Base class of messages sent in bulk; subclasses set a topic in ``delivery_options``."""

    abstract: ClassVar[bool] = True
    # Bulk mail is no auto-reply risk, and is identified by its List-* headers.
    auto_submitted = None
    # Where a recipient's address and language are read from (get_bulk_message).
    recipient_address_field: str = "email"
    recipient_language_field: str | None = None
    # An address that records unsubscribes sent by mail (mailto: in
    # List-Unsubscribe); None: TXMAIL["UNSUBSCRIBE_MAILTO"], else none.
    unsubscribe_mailto: str | None = None
    # Recipients per chunk (one task each); None: TXMAIL["BULK_CHUNK_SIZE"].
    chunk_size: int | None = None
    # Nobody skipped: a message whose worker died mid hand-over goes again,
    # under the same Message-ID (a copy rather than a loss).
    resend_if_unknown_default: ClassVar[bool] = True

    def __init__(self, recipient: Any = None, **kwargs: Any) -> None:
        # ``recipient`` is a row of the campaign's queryset (or None when the
        # caller gives ``to=`` itself, as a preview does).
        self.recipient = recipient
        if recipient is not None:
            kwargs.setdefault("to", [str(getattr(recipient, self.recipient_address_field))])
            if self.recipient_language_field and kwargs.get("language") is None:
                kwargs["language"] = getattr(recipient, self.recipient_language_field) or None
        super().__init__(**kwargs)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Validate early: a concrete bulk class without a topic would record
        # unsubscribes that stop nothing (or everything).
        if (not cls.abstract and not cls.delivery_options.topic
                and cls.get_delivery_options is Message.get_delivery_options):
            raise MessageConfigurationError(
                f"{cls.__name__} requires either a topic in 'delivery_options' (the list "
                "recipients unsubscribe from, e.g. delivery_options = "
                "DeliveryOptions(topic='newsletter')) or an implementation of "
                "'get_delivery_options()'."
            )
        if cls.delivery_options.critical:
            raise MessageConfigurationError(
                f"{cls.__name__}.delivery_options has critical=True: bulk mail can't be "
                "critical, its recipients' unsubscribes must stop it (RFC 8058). Remove "
                "critical=True, or send it as a plain Message.")
        if problem := MAILTO_ADDRESS.problem(cls.unsubscribe_mailto):
            raise MessageConfigurationError(f"{cls.__name__}.unsubscribe_mailto {problem}.")

    def resolve(self, using: str | None = None, *, sending: bool = True,
                options: Mapping[str, Any] | None = None) -> "Draft":
        draft = super().resolve(using, sending=sending, options=options)
        # The class check above can't see get_delivery_options() or send()'s options.
        if draft.options.critical:
            raise MessageConfigurationError(
                f"{type(self).__name__} was given critical=True (by get_delivery_options() "
                "or send()/enqueue()): bulk mail can't be critical, its recipients' "
                "unsubscribes must stop it (RFC 8058). Remove critical=True, or send it as "
                "a plain Message.")
        return draft

    # -- bulk ---------------------------------------------------------------

    @classmethod
    def get_bulk_message(cls, recipient: Any, **kwargs: Any) -> "BulkMessage":
        """Return the message for one recipient of a campaign.

        ``kwargs`` are ``send_bulk()``'s keyword arguments (JSON values). The
        default passes them to the template as context; override to build the
        message another way (your own constructor, data looked up per recipient).
        """
        return cls(recipient, context=kwargs)

    @classmethod
    def send_bulk(cls, queryset: QuerySet[Any], *, using: str | None = None,
                  chunk_size: int | None = None, **kwargs: Any) -> "Campaign":
        """Send one message per row of ``queryset`` from task workers; return the campaign.

        ``kwargs`` go to ``get_bulk_message()`` in the worker, so they must be
        JSON values. Recipients are read by primary key ranges, a chunk (one
        task) at a time, never all at once. Call it inside a transaction and a
        rollback sends nothing; the chunks are handed to the task queue on commit.
        """
        from .campaign import start

        return start(cls, queryset, using=using, chunk_size=chunk_size, kwargs=kwargs)

    @classmethod
    def get_bulk_queryset(cls) -> QuerySet[Any]:
        """Return the default recipients (``manage.py txmail campaign start``)."""
        raise MessageConfigurationError(
            f"{cls.__name__} has no default recipients: implement the classmethod "
            "'get_bulk_queryset()' to start it from `manage.py txmail campaign start`."
        )

    @classmethod
    def get_bulk_kwargs(cls) -> Mapping[str, Any]:
        """Return default ``send_bulk()`` arguments (``manage.py txmail campaign start``)."""
        return {}

    # -- unsubscribe --------------------------------------------------------


    def get_unsubscribe_address(self) -> str:
        """Return the address an unsubscribe stops: the first To address."""
        recipients = self.get_to()
        if not recipients:
            raise MessageConfigurationError(
                f"{type(self).__name__} has no To address to unsubscribe: give it one "
                "(to=[...]) or implement 'get_unsubscribe_address()'."
            )
        return bare(recipients[0])

    def get_unsubscribe_url(self) -> str:
        """Return the signed one-click URL for this recipient and topic (absolute)."""
        topic = self.get_delivery_options().topic
        if not topic:
            # An unsubscribe from the empty topic would suppress every message.
            raise MessageConfigurationError(
                f"{type(self).__name__}.get_delivery_options() has topic {topic!r}: a bulk "
                "message needs the name of the list recipients unsubscribe from."
            )
        token = make_token(self.get_unsubscribe_address(), topic)
        try:
            path = reverse(URL_NAME, kwargs={"token": token})
        except NoReverseMatch:
            raise MessageConfigurationError(
                f"{type(self).__name__} needs the unsubscribe endpoint: add "
                "path('email/', include('txmail.bulk.urls')) to your URLconf."
            ) from None
        return absolute(path)

    def _unsubscribe_url(self) -> str:
        # Signed once per message (the headers and the template both need it),
        # for the address and topic it was signed for.
        key = (self.get_unsubscribe_address(), self.get_delivery_options().topic)
        cached = self.__dict__.get("_txmail_unsubscribe")
        if cached is None or cached[0] != key:
            cached = (key, self.get_unsubscribe_url())
            self.__dict__["_txmail_unsubscribe"] = cached
        return cached[1]

    def get_preferences_url(self) -> str:
        """Return the signed URL of the recipient's preference centre (absolute)."""
        return preferences_url(self.get_unsubscribe_address())

    def get_unsubscribe_mailto(self) -> str | None:
        """Return the mailto: address for List-Unsubscribe, or None for none."""
        return self.unsubscribe_mailto or txmail_settings.UNSUBSCRIBE_MAILTO

    def get_headers(self) -> dict[str, str]:
        """Add RFC 8058's one-click unsubscribe headers (RFC 2369 List-Unsubscribe)."""
        url = self._unsubscribe_url()
        targets = [f"<{url}>"]
        mailto = self.get_unsubscribe_mailto()
        if mailto is not None and (problem := MAILTO_ADDRESS.problem(mailto)):
            # The header is built from a checked address only: "a@b.c>, <https://x"
            # would add a target of its own.
            raise MessageConfigurationError(
                f"The address {type(self).__name__}.get_unsubscribe_mailto() returned "
                f"{problem}.")
        if mailto:
            token = url.rstrip("/").rsplit("/", 1)[-1]
            targets.append(f"<{mailto_uri(mailto, f'unsubscribe {token}')}>")
        headers = super().get_headers()
        # A class's own List-Unsubscribe (in any case) replaces both of txmail's:
        # One-Click must name txmail's https URL, not whatever the class gave.
        if "list-unsubscribe" in {name.lower() for name in headers}:
            return headers
        ours = {"List-Unsubscribe": ", ".join(targets)}
        if _one_click_capable(url):
            ours["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return {**ours, **headers}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("unsubscribe_url", self._unsubscribe_url())
        kwargs.setdefault("preferences_url", self.get_preferences_url())
        kwargs.setdefault("recipient", self.recipient)
        return super().get_context_data(**kwargs)
