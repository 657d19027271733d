"""The shop's emails. txmail discovers this module and registers every class.

Each class has ``preview*`` classmethods building it from unsaved sample data;
they accept the preview's URL query parameters as strings in ``**params``.
"""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from txmail import Attachment, BulkMessage, CancelSend, DeliveryOptions, InlineImage, Message
from txmail.contrib import auth
from txmail.sites import get_site_url

from . import samples
from .models import Order, order_totals
from .receipt_pdf import receipt_pdf

LOGO_PATH = Path(__file__).parent / "static" / "shop" / "logo.png"


def _user(pk):
    """Return the user ``pk`` from a preview URL, or an unsaved sample user."""
    return get_user_model().objects.get(pk=pk) if pk else samples.sample_user()


class ShopMessage(Message):
    """Base of the shop's messages: the brand details the layout shows."""

    abstract = True
    # The emails invite replies ("Reply to this email"); they go to support,
    # not to the no-reply sender.
    reply_to = ["Acme Support <support@acme.example>"]

    def get_context_data(self, **kwargs):
        brand = {
            "site_name": settings.SHOP_SITE_NAME,
            "site_url": get_site_url(),  # TXMAIL["SITE_URL"]
            "support_email": "support@acme.example",
            "company_address": "Acme Shop Ltd · 12 Harbour Street · Bristol BS1 4RN",
        }
        # Passed down as defaults: values given as context=... when creating the
        # message win, and so do the brand's over txmail.contrib.auth's site name.
        return super().get_context_data(**{**brand, **kwargs})


class PasswordReset(ShopMessage, auth.PasswordReset):
    """Link to choose a new password, sent by the password reset form."""

    template_name = "emails/password_reset"
    mailer = "transactional"


class Welcome(ShopMessage):
    """Greets a new customer and points to the first things to do."""

    template_name = "emails/welcome"
    subject = _("Welcome to {{ site_name }}")
    mailer = "transactional"

    def __init__(self, user, **kwargs):
        super().__init__(to=[user.email], **kwargs)
        self.user = user

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["user"] = self.user
        return context

    @classmethod
    def preview(cls, user=None, **params):
        return cls(_user(user))

    @classmethod
    def preview_without_name(cls, **params):
        """A customer who left the name fields empty: the greeting falls back."""
        return cls(samples.sample_user(first_name="", last_name=""))


class OrderReceipt(ShopMessage):
    """Receipt for a paid order: line items, totals and a PDF copy."""

    template_name = "emails/order_receipt"
    subject = _("Your {{ site_name }} receipt for order {{ order.number }}")
    mailer = "transactional"
    # One receipt per order: a double click or a retried request that enqueues it
    # again within a day sends nothing and returns the first delivery.
    delivery_options = DeliveryOptions(idempotency_key="receipt/{order.pk}")

    def __init__(self, order, items=None, **kwargs):
        super().__init__(to=[order.customer.email], **kwargs)
        self.order = order
        # Unsaved orders (previews) can't query their items, so they pass them.
        self.items = list(order.items.all()) if items is None else list(items)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            order=self.order,
            items=self.items,
            customer=self.order.customer,
            **order_totals(self.order, self.items),
        )
        return context

    def get_idempotency_key(self, template):
        # A sample order (previews, send_examples) is unsaved: no pk, no key, so
        # each sample receipt sends.
        return super().get_idempotency_key(template) if self.order.pk else None

    def get_attachments(self):
        # Runs in the recipient's language, so the PDF is localized too.
        pdf = receipt_pdf(self.order, self.items, site_name=settings.SHOP_SITE_NAME)
        return [
            *super().get_attachments(),
            Attachment(f"receipt-{self.order.number}.pdf", pdf, "application/pdf"),
            InlineImage("logo", LOGO_PATH.read_bytes(), "image/png", "logo.png"),
        ]

    @classmethod
    def preview(cls, order=None, **params):
        if order:
            return cls(Order.objects.select_related("customer").get(pk=order))
        return cls(*samples.sample_order())

    @classmethod
    def preview_many_items(cls, **params):
        """A large order, to check the table and totals stay readable."""
        return cls(*samples.sample_order(item_count=len(samples.PRODUCTS)))


class OrderShipped(ShopMessage):
    """Says an order has shipped; queued with a delay, dropped if it was cancelled since."""

    template_name = "emails/order_shipped"
    subject = _("Your {{ site_name }} order {{ order.number }} has shipped")
    mailer = "transactional"

    def __init__(self, order, **kwargs):
        super().__init__(to=[order.customer.email], **kwargs)
        self.order = order

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(order=self.order, customer=self.order.customer)
        return context

    def get_send_check(self):
        # Stored as JSON at enqueue(); a sample order (unsaved) has nothing to check.
        return {"order": self.order.pk} if self.order.pk else None

    @classmethod
    def still_wanted(cls, data):
        """Drop the notice of an order cancelled (or deleted) while it waited."""
        order = Order.objects.filter(pk=data["order"]).first()
        if order is None or order.cancelled:
            raise CancelSend(f"order {data['order']} was cancelled before it shipped")
        return True

    @classmethod
    def preview(cls, order=None, **params):
        if order:
            return cls(Order.objects.select_related("customer").get(pk=order))
        return cls(samples.sample_order()[0])


class Newsletter(BulkMessage, ShopMessage):
    """The monthly journal: a few articles, sent in bulk through the marketing mailer.

    ``Newsletter.send_bulk(Newsletter.get_bulk_queryset())`` (or ``manage.py
    send_newsletter``) sends it to every customer from the task workers, each in
    their profile's language. As a ``BulkMessage`` it carries one-click
    unsubscribe headers (RFC 8058) and ``{{ unsubscribe_url }}``; an unsubscribe
    stops the "newsletter" topic only.
    """

    template_name = "emails/newsletter"
    subject = "{{ title }}"
    mailer = "marketing"
    delivery_options = DeliveryOptions(topic="newsletter")
    # Annotated by get_bulk_queryset() from the customer's profile.
    recipient_language_field = "language"

    def __init__(self, recipient=None, *, title, intro, articles, **kwargs):
        super().__init__(recipient, **kwargs)
        self.title, self.intro = title, intro
        self.articles = list(articles)

    @classmethod
    def get_bulk_message(cls, recipient, **kwargs):
        # The edition of the customer's language: its articles, not only the layout.
        return cls(recipient, **samples.sample_issue(recipient.language))

    @classmethod
    def get_bulk_queryset(cls):
        """Every active customer with an address, with their language.

        ``manage.py txmail campaign start`` and ``send_newsletter`` send to these.
        Customers without a profile (an account made with createsuperuser) get
        the site's default language.
        """
        return (
            get_user_model().objects.filter(is_active=True).exclude(email="")
            .annotate(language=Coalesce("profile__language", Value(settings.LANGUAGE_CODE)))
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            title=self.title,
            intro=self.intro,
            featured=self.articles[0] if self.articles else None,
            articles=self.articles[1:],
        )
        return context

    @classmethod
    def preview(cls, **params):
        return cls(to=["ada@example.com"], **samples.sample_issue("en"))

    @classmethod
    def preview_french(cls, **params):
        """The French edition, with French copy and the layout translated."""
        return cls(to=["ada@example.com"], language="fr", **samples.sample_issue("fr"))
