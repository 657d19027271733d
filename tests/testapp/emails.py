"""Message classes the test suite sends; discovered like any app's emails.py."""

from dataclasses import replace

from txmail import DeliveryOptions, Message
from txmail.bulk.bulk_message import BulkMessage


class BaseTestMessage(Message):
    abstract = True
    from_email = "Example Shop <shop@example.com>"


class Hello(BaseTestMessage):
    """A minimal MJML message."""

    template_name = "testapp/emails/hello"
    subject = "Hello {{ name }}"
    mailer = "transactional"

    def __init__(self, name="Ann", to=("ann@example.com",), **kwargs):
        super().__init__(to=list(to), **kwargs)
        self.name = name

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["name"] = self.name
        return context

    @classmethod
    def preview(cls, name="Ann"):
        return cls(name=name)


class Promo(BaseTestMessage):
    """A plain-HTML message bound to another mailer."""

    template_name = "testapp/emails/promo"
    subject = "Deals for {{ name }}"
    mailer = "marketing"
    auto_submitted = None

    def __init__(self, name="Ann", to=("ann@example.com",), **kwargs):
        super().__init__(to=list(to), context={"name": name}, **kwargs)

    @classmethod
    def preview(cls, name="Ann"):
        return cls(name=name)


class Bulletin(BulkMessage):
    """A bulk message to ``Subscriber`` rows (tests/test_bulk*.py)."""

    template_name = "testapp/emails/bulletin"
    subject = "{{ title }} for {{ recipient.name }}"
    from_email = "Example Shop <news@example.com>"
    delivery_options = DeliveryOptions(topic="bulletin")
    recipient_language_field = "language"

    @classmethod
    def preview(cls):
        from tests.testapp.models import Subscriber

        return cls(Subscriber(name="Ann", email="ann@example.com"),
                   context={"title": "June"})


class BulletinByLanguage(Bulletin):
    """A topic per recipient: get_delivery_options() reads the instance (tests/test_bulk.py)."""

    delivery_options = DeliveryOptions()

    def get_delivery_options(self):
        options = super().get_delivery_options()
        return replace(options, topic=f"bulletin-{self.recipient.language}")


class BulletinWithArchive(Bulletin):
    """Each bulletin also goes to an archive address (cc): two recipients a row."""

    @classmethod
    def get_bulk_message(cls, recipient, **kwargs):
        return cls(recipient, context=kwargs, cc=["archive@example.com"])


def statement_lines(seed: int, count: int = 40) -> list[dict]:
    """Order lines that differ per recipient, as a real statement's do."""
    return [
        {"ref": f"A{seed:05d}-{n:03d}", "title": f"Item {n} of order {seed}",
         "note": f"Shipped to {seed} Example Road, parcel {seed * 7 + n}",
         "qty": 1 + (seed + n) % 4, "amount": f"€{(seed * 13 + n * 7) % 900 / 10:.2f}"}
        for n in range(count)
    ]


STATEMENT_OFFERS = [
    {"slug": f"offer-{n}", "title": f"Offer number {n}",
     "body": "A paragraph of promotional text that is long enough to wrap over a few "
             "lines in most clients, as the offers in a real statement are. " * 2}
    for n in range(4)
]


class Statement(BaseTestMessage):
    """A realistic transactional message (~30 KB of HTML and a text part; the benchmarks).

    Every fourth one carries a PDF-sized attachment, as invoices and statements do.
    """

    template_name = "testapp/emails/statement"
    subject = "Your statement for {{ period }}"
    mailer = "transactional"

    def __init__(self, seed=1, to=("ann@example.com",), **kwargs):
        super().__init__(to=list(to), **kwargs)
        self.seed = seed

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        lines = statement_lines(self.seed)
        context.update(
            name=f"Reader {self.seed}", account=f"AC-{self.seed:06d}", period="November 2026",
            card=f"{self.seed % 10000:04d}", due="15 December 2026", lines=lines,
            total=f"€{sum(float(line['amount'][1:]) for line in lines):.2f}",
            offers=STATEMENT_OFFERS,
        )
        return context

    def get_attachments(self):
        attachments = super().get_attachments()
        if self.seed % 4 == 0:
            from txmail import Attachment

            body = (f"%PDF-1.4 statement {self.seed}\n".encode() * 400)[:12_000]
            attachments.append(Attachment(f"statement-{self.seed}.pdf", body,
                                          "application/pdf"))
        return attachments

    @classmethod
    def preview(cls, seed=4):
        return cls(seed=seed)


class StatementDigest(BulkMessage):
    """A realistic bulk message (the Statement's ~45 KB template; the bulk benchmark)."""

    template_name = "testapp/emails/statement"
    subject = "Your statement for {{ period }}"
    from_email = "Example Shop <news@example.com>"
    delivery_options = DeliveryOptions(topic="bulletin")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        seed = getattr(self.recipient, "pk", None) or 1
        lines = statement_lines(seed)
        context.update(
            name=getattr(self.recipient, "name", "Reader"), account=f"AC-{seed:06d}",
            period="November 2026", card=f"{seed % 10000:04d}", due="15 December 2026",
            lines=lines, offers=STATEMENT_OFFERS,
            total=f"€{sum(float(line['amount'][1:]) for line in lines):.2f}",
        )
        return context

    @classmethod
    def preview(cls):
        from tests.testapp.models import Subscriber

        return cls(Subscriber(pk=4, name="Ann", email="ann@example.com"))
