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
