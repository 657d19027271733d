"""Smoke tests of the example: ``python manage.py test shop``."""

import email
import email.policy
import re
from io import StringIO

from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import TestCase
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from txmail.delivery import queue
from txmail.delivery.models import Delivery
from txmail.registry import message_classes
from txmail.suppression.models import Suppression
from txmail.testing import MailTestMixin

from .emails import Newsletter, OrderReceipt, OrderShipped, PasswordReset
from .models import Order
from .views import SHIPS_AFTER


def shop_previews():
    """Yield ``(label, message)`` for every preview method of the shop's classes."""
    for name, cls in message_classes().items():
        if name.startswith("shop."):
            for attr in dir(cls):
                if attr == "preview" or attr.startswith("preview_"):
                    yield f"{name}.{attr}", getattr(cls, attr)()


class PreviewTests(TestCase):
    def test_every_preview_renders_in_every_language(self):
        for label, message in shop_previews():
            for language in ("en", "fr", "de"):
                with self.subTest(label, language=language):
                    message.language = language
                    rendered = message.render()
                    self.assertIn(f'lang="{language}"', rendered.html)
                    self.assertNotIn("{{", rendered.html + rendered.text + rendered.subject)
                    self.assertNotRegex(rendered.html, r"<img(?![^>]*\balt=\")")

    def test_password_reset_is_translated(self):
        message = PasswordReset.preview()
        message.language = "fr"
        rendered = message.render()
        # The subject is txmail.contrib.auth's, in Django's own translation.
        self.assertEqual(rendered.subject, "Réinitialisation du mot de passe sur Acme Shop")
        self.assertIn("Choisir un nouveau mot de passe", rendered.html)


class ReceiptTests(TestCase):
    def test_pdf_and_inline_logo(self):
        email = OrderReceipt.preview_many_items().message()
        [part] = email.attachments  # txmail attaches ready-made MIME parts
        self.assertEqual(part.get_filename(), "receipt-A-10024.pdf")
        self.assertEqual(part.get_content_type(), "application/pdf")
        pdf = part.get_content()
        # Every xref offset must point at its object: readers rely on it.
        xref = int(re.search(rb"startxref\n(\d+)", pdf).group(1))
        offsets = re.findall(rb"(\d{10}) 00000 n", pdf[xref:])
        for number, offset in enumerate(offsets, start=1):
            self.assertTrue(pdf[int(offset) :].startswith(b"%d 0 obj" % number))
        self.assertIn(b"Content-ID: <logo>", email.message().as_bytes())


class DeliveryOptionsTests(MailTestMixin, TestCase):
    """The receipt's idempotency key and the shipped notice's send time and last check."""

    def setUp(self):
        call_command("seed_demo", customers=0, stdout=StringIO())
        self.order = Order.objects.order_by("pk").first()

    def test_the_receipt_of_an_order_is_sent_once(self):
        first = OrderReceipt(self.order).enqueue()
        again = OrderReceipt(self.order).enqueue()  # a double click, a retried request
        self.assertEqual(again.delivery_id, first.delivery_id)
        self.assertDeduplicated(OrderReceipt, key=f"receipt/{self.order.pk}")
        self.runQueued()
        self.assertSentCount(1, OrderReceipt)
        self.assertEqual(Delivery.objects.count(), 1)
        [sent] = mail.outbox
        self.assertIn(self.order.number, sent.subject)

    def test_placing_an_order_schedules_the_shipped_notice(self):
        self.client.login(username="demo", password="demo")
        before = timezone.now()
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post("/orders/new/")
        after = timezone.now()
        order = Order.objects.get(number="A-1003")
        self.assertScheduled(OrderShipped, to="demo@acme.example",
                             between=(before + SHIPS_AFTER, after + SHIPS_AFTER))
        delivery = Delivery.objects.get(message_class="shop.OrderShipped")
        self.assertEqual((delivery.status, delivery.send_check), ("scheduled", {"order": order.pk}))
        self.runQueued()  # not due yet: only the receipt goes
        self.assertNotSent(OrderShipped)
        self.assertSentCount(1, OrderReceipt)

    def test_the_shipped_notice_of_an_order_cancelled_since_is_not_sent(self):
        queued = OrderShipped(self.order).enqueue(delay=SHIPS_AFTER)
        kept = OrderShipped(Order.objects.order_by("pk").last()).enqueue(delay=SHIPS_AFTER)
        Order.objects.filter(pk=self.order.pk).update(cancelled=True)
        queued.reschedule(timezone.now())  # as if the two minutes had passed
        kept.reschedule(timezone.now())
        self.runQueued()  # what db_worker does once they are due
        delivery = Delivery.objects.get(pk=queued.delivery_id)
        self.assertEqual((delivery.status, delivery.last_error), (
            "cancelled", f"Cancelled by the last check: order {self.order.pk} was cancelled "
                         "before it shipped"))
        [sent] = mail.outbox  # the other order's notice went out
        self.assertEqual(sent.subject, "Your Acme Shop order A-10002 has shipped")
        self.assertEqual(Delivery.objects.get(pk=kept.delivery_id).status, "sent")


class FlowTests(TestCase):
    def setUp(self):
        call_command("seed_demo", stdout=StringIO())

    def test_seed_demo_is_idempotent(self):
        call_command("seed_demo", stdout=StringIO())
        self.assertEqual(get_user_model().objects.filter(username="demo").count(), 1)
        self.assertEqual(Order.objects.count(), 2)

    def test_password_reset_form_queues_the_txmail_message(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post("/accounts/password_reset/",
                                        {"email": "demo@acme.example"})
        self.assertRedirects(response, "/accounts/password_reset/done/")
        # Queued, so a relay outage delays the mail instead of losing it.
        delivery = Delivery.objects.get()
        self.assertEqual((delivery.message_class, delivery.status),
                         ("shop.PasswordReset", "queued"))
        self.assertEqual(mail.outbox, [])
        queue.run(delivery.pk)  # what db_worker does with the task
        [email] = mail.outbox
        self.assertEqual(email.subject, "Password reset on Acme Shop")
        self.assertEqual((email.to, email.sent_using), (["demo@acme.example"], "transactional"))
        # TXMAIL["SITE_URL"] is the base of the link, not the request's host.
        link = re.search(r"http://127.0.0.1:8000(/accounts/reset/\S+/)", email.body).group(1)
        response = self.client.get(link, follow=True)
        self.assertContains(response, "Choose a new password")
        response = self.client.post(response.redirect_chain[-1][0], {
            "new_password1": "a-new-passphrase", "new_password2": "a-new-passphrase"})
        self.assertRedirects(response, "/accounts/reset/done/")
        self.assertTrue(self.client.login(username="demo", password="a-new-passphrase"))

    def test_password_reset_for_an_unknown_address_sends_nothing(self):
        response = self.client.post("/accounts/password_reset/", {"email": "x@acme.example"})
        self.assertRedirects(response, "/accounts/password_reset/done/")
        self.assertEqual(mail.outbox, [])

    def test_send_examples_sends_each_message_once(self):
        out = StringIO()
        call_command("send_examples", to="qa@example.org", stdout=out)
        self.assertEqual(len(mail.outbox), 5)
        self.assertEqual({tuple(e.to) for e in mail.outbox}, {("qa@example.org",)})
        self.assertIn("via 'marketing'", out.getvalue())

    def test_signup_queues_the_welcome_email_for_the_worker(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post("/signup/", {
                "username": "ada", "email": "ada@example.com",
                "password1": "a-long-passphrase", "password2": "a-long-passphrase"},
                headers={"accept-language": "fr"})
        self.assertRedirects(response, "/")
        # Her newsletters come in the language she signed up in.
        self.assertEqual(get_user_model().objects.get(username="ada").profile.language, "fr")
        delivery = Delivery.objects.get()
        self.assertEqual((delivery.message_class, delivery.status, delivery.recipients),
                         ("shop.Welcome", "queued", ["ada@example.com"]))
        # Handed to django-tasks-db: db_worker sends it (nothing is sent in the request).
        # The task is its queue's (task backend, queue name, priority): it sends every
        # message of the queue that is ready when it runs.
        task = DBTaskResult.objects.get()
        self.assertEqual((task.task_path, task.args_kwargs["args"]),
                         ("txmail.delivery.queue.deliver_ready", ["default", "", 0]))
        self.assertEqual(mail.outbox, [])

    def test_placing_an_order_queues_its_receipt(self):
        self.client.login(username="demo", password="demo")
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post("/orders/new/")
        delivery = Delivery.objects.get(status="queued")
        self.assertEqual(delivery.message_class, "shop.OrderReceipt")
        self.assertIn("A-1003", delivery.subject)

    def test_pages(self):
        for url in ["/", "/signup/", "/accounts/login/", "/accounts/password_reset/"]:
            with self.subTest(url):
                self.assertEqual(self.client.get(url).status_code, 200)


def txmail(*args):
    out = StringIO()
    call_command("txmail", *args, stdout=out)
    return out.getvalue()


class TxmailCommandTests(TestCase):
    def test_list(self):
        self.assertEqual(txmail("list").splitlines(), [
            "NAME                MAILER         TEMPLATE                           STATE",
            "shop.Newsletter     marketing      emails/newsletter.mjml + .txt      compiled",
            "shop.OrderReceipt   transactional  emails/order_receipt.mjml + .txt   compiled",
            "shop.OrderShipped   transactional  emails/order_shipped.mjml + .txt   compiled",
            "shop.PasswordReset  transactional  emails/password_reset.mjml + .txt  compiled",
            "shop.Welcome        transactional  emails/welcome.mjml                compiled",
        ])

    def test_render_text_in_french(self):
        text = txmail("render", "shop.Welcome", "--variant", "without-name",
                      "--format", "text", "--language", "fr")
        self.assertEqual(text.splitlines()[:3], ["Acme Shop (http://127.0.0.1:8000)", "",
                                                 "Bienvenue chez Acme Shop"])

    def test_render_html(self):
        html = txmail("render", "shop.PasswordReset", "--language", "de")
        self.assertTrue(html.startswith("<!doctype html>"), html[:40])
        self.assertIn('lang="de"', html)
        self.assertIn('href="http://127.0.0.1:8000/accounts/reset/', html)

    def test_render_eml_with_a_preview_parameter(self):
        call_command("seed_demo", stdout=StringIO())
        order = Order.objects.order_by("pk").first()
        raw = txmail("render", "shop.OrderReceipt", "--format", "eml",
                     "--param", f"order={order.pk}")
        msg = email.message_from_string(raw, policy=email.policy.default)
        self.assertEqual(msg["Subject"], f"Your Acme Shop receipt for order {order.number}")
        self.assertEqual(msg["To"], order.customer.email)
        self.assertEqual(msg.get_content_type(), "multipart/mixed")

    def test_send_goes_through_the_class_mailer_to_one_address(self):
        out = txmail("send", "shop.Newsletter", "--variant", "french", "--to", "qa@example.org")
        [sent] = mail.outbox
        self.assertEqual((sent.to, sent.cc, sent.bcc, sent.sent_using),
                         (["qa@example.org"], [], [], "marketing"))
        message_id = sent.extra_headers["Message-ID"]
        self.assertEqual(out, f"Sent shop.Newsletter (french) to qa@example.org through "
                              f"mailer 'marketing' (Message-ID {message_id}).\n")
        self.assertEqual(Delivery.objects.get().message_class, "shop.Newsletter")

    def test_bad_input_names_the_fix(self):
        cases = [
            (("render", "shop.Nope"),
             "No message class is registered as 'shop.Nope'; registered: shop.Newsletter, "
             "shop.OrderReceipt, shop.OrderShipped, shop.PasswordReset, shop.Welcome. Run "
             "'manage.py txmail list' to see them."),
            (("render", "shop.Welcome", "--variant", "french"),
             "shop.Welcome has no preview variant 'french'; it has default, without-name. "
             "Pass one of them with --variant."),
            (("render", "shop.Welcome", "--language", "es"),
             "Unknown language 'es'; settings.LANGUAGES has en, fr, de. Pass one of them "
             "with --language."),
            (("render", "shop.Welcome", "--param", "user"),
             "--param 'user' is not KEY=VALUE, e.g. --param user=3."),
            (("send", "shop.Welcome", "--to", "not-an-address"),
             "'not-an-address' is not an email address; pass one address, e.g. "
             "--to you@example.com."),
        ]
        for args, message in cases:
            with self.subTest(args), self.assertRaisesMessage(CommandError, message):
                txmail(*args)
        self.assertEqual(mail.outbox, [])


class NewsletterTests(TestCase):
    """The newsletter in bulk: one-click unsubscribe end to end, then a campaign."""

    def setUp(self):
        call_command("seed_demo", customers=3, stdout=StringIO())

    def test_the_preference_centre_stops_the_newsletter_but_not_a_password_reset(self):
        customer = get_user_model().objects.get(username="customer1")
        customer.language = "en"
        message = Newsletter.get_bulk_message(customer).message()
        url = re.search(r'href="http://127.0.0.1:8000(/email/preferences/[^/"]+/)"',
                        message.alternatives[0].content)[1]
        self.assertIn(f"Email preferences: http://127.0.0.1:8000{url}", message.body)
        page = self.client.get(url)
        self.assertTemplateUsed(page, "shop/base.html")  # the shop's look
        self.assertContains(page, "The Acme Journal")  # TXMAIL["TOPICS"]'s label
        self.assertContains(page, "Stories from the workshop, once a month.")
        self.client.post(url, {"topic": ["newsletter"], "everything": "1"})  # no CSRF check here
        self.assertEqual(list(Suppression.objects.values_list("address", "topic", "reason")),
                         [("customer1@acme.example", "", "unsubscribed")])
        mail.outbox.clear()
        PasswordReset(customer).send()  # critical: sent all the same
        self.assertEqual([m.to for m in mail.outbox], [["customer1@acme.example"]])
        progress = self.run_campaign().progress()
        self.assertEqual((progress.sent, progress.suppressed), (3, 1))

    def run_campaign(self):
        from txmail.bulk import tasks as chunks

        with self.captureOnCommitCallbacks(execute=False):
            campaign = Newsletter.send_bulk(Newsletter.get_bulk_queryset())
        for chunk in campaign.chunks.all():
            chunks.run_chunk(chunk.pk)
        return campaign

    def test_the_unsubscribe_link_works_and_the_next_campaign_skips_the_address(self):
        customer = get_user_model().objects.get(username="customer1")
        customer.language = "en"  # as get_bulk_queryset() annotates it
        message = Newsletter.get_bulk_message(customer).message()
        url = re.fullmatch(r"<(http://127.0.0.1:8000(/email/unsubscribe/[^/]+/))>",
                           message.extra_headers["List-Unsubscribe"])[2]
        self.assertEqual(message.extra_headers["List-Unsubscribe-Post"],
                         "List-Unsubscribe=One-Click")
        self.assertIn(url, message.alternatives[0].content)  # the visible link
        page = self.client.get(url)
        self.assertContains(page, "customer1@acme.example")
        self.assertFalse(Suppression.objects.exists())
        self.client.post(url, "List-Unsubscribe=One-Click",
                         content_type="application/x-www-form-urlencoded")
        self.assertEqual(list(Suppression.objects.values_list("address", "topic")),
                         [("customer1@acme.example", "newsletter")])
        # The shop's override of txmail/bulk/base.html: its layout and logo.
        again = self.client.get(url)
        self.assertContains(again, "You are unsubscribed")
        self.assertContains(again, 'alt="Acme Shop"')
        self.assertTemplateUsed(again, "shop/base.html")
        self.assertContains(again, 'name="resubscribe"')
        # The page links to the preference centre, which shows the opt-out.
        self.assertContains(again, "/email/preferences/")
        mail.outbox.clear()
        campaign = self.run_campaign()
        progress = campaign.progress()
        self.assertEqual((progress.total, progress.sent, progress.suppressed), (4, 3, 1))
        self.assertEqual(sorted(m.to[0] for m in mail.outbox), [
            "customer2@acme.example", "customer3@acme.example", "demo@acme.example"])
        # Each in their profile's language: customer3 reads French (seed_demo),
        # the demo user has no profile and gets the site's language.
        self.assertEqual({m.to[0]: m.subject.split()[0] for m in mail.outbox}, {
            "customer2@acme.example": "The", "customer3@acme.example": "L'édition",
            "demo@acme.example": "The"})
        french = next(m for m in mail.outbox if m.to[0] == "customer3@acme.example")
        self.assertIn('lang="fr"', french.alternatives[0].content)

    def test_send_newsletter_starts_a_campaign(self):
        out = StringIO()
        with self.captureOnCommitCallbacks(execute=True):
            call_command("send_newsletter", "--no-follow", stdout=out)
        self.assertEqual(out.getvalue(), "Campaign 1: 4 customers.\n")
        self.assertEqual(DBTaskResult.objects.count(), 1)  # one chunk, one task
