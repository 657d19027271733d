"""Inbound mail's pages and entry points: the admin, anymail's inbound webhook, the checks."""

import base64
import json

import pytest
from django.core import checks
from django.test import override_settings

from tests.inboundapp import mailboxes as boxes
from tests.inboundapp.emails import Notice
from tests.test_inbound import raw_message, receive
from tests.testapp.emails import Hello
from txmail.delivery.models import Delivery
from txmail.inbound import Mailbox, mailboxes
from txmail.inbound.checks import (
    check_inbound_webhook_secret,
    check_reply_mailboxes,
    check_routes,
)
from txmail.inbound.models import InboundMessage, Status
from txmail.registry import register, unregister

AUTH = {"authorization": "Basic "
        + base64.b64encode(b"txmail:hook-secret-of-the-tests").decode()}
BOXES = [boxes.Comments, boxes.Support, boxes.NoReply, boxes.Orders]


@pytest.fixture(autouse=True)
def registered():
    for cls in BOXES:
        mailboxes.register(cls)
    yield
    for cls in BOXES:
        mailboxes.unregister(cls)


# -- the admin ------------------------------------------------------------------------

def test_the_list_filters_by_status_and_mailbox(admin_client, django_capture_on_commit_callbacks):
    receive(django_capture_on_commit_callbacks, subject="Lost parcel")
    receive(django_capture_on_commit_callbacks, "noreply@example.com", subject="Spam offer")
    page = admin_client.get("/admin/txmail/inboundmessage/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Lost parcel" in text and "Spam offer" in text
    assert "?status__exact=bounced" in text
    assert "?mailbox=tests.inboundapp.mailboxes.Support" in text
    bounced = admin_client.get(
        "/admin/txmail/inboundmessage/?status__exact=bounced").content.decode()
    assert "Spam offer" in bounced and "Lost parcel" not in bounced
    support = admin_client.get("/admin/txmail/inboundmessage/?mailbox="
                               "tests.inboundapp.mailboxes.Support").content.decode()
    assert "Lost parcel" in support and "Spam offer" not in support


def test_a_messages_page_shows_it_raw_and_downloads_it(admin_client,
                                                      django_capture_on_commit_callbacks):
    row = receive(django_capture_on_commit_callbacks, body="<script>alert(1)</script>")
    text = admin_client.get(f"/admin/txmail/inboundmessage/{row.pk}/change/").content.decode()
    assert "Where is my order?" in text and "tests.inboundapp.mailboxes.Support" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # shown as text, never run
    assert "<script>alert(1)" not in text
    download = admin_client.get(f"/admin/txmail/inboundmessage/{row.pk}/raw/")
    assert download.status_code == 200
    assert download["Content-Type"] == "message/rfc822"
    assert download["Content-Disposition"] == f'attachment; filename="inbound-{row.pk}.eml"'
    assert download.content == bytes(row.raw)


def test_a_reply_and_its_delivery_link_each_other(admin_client, sent_mail,
                                                  django_capture_on_commit_callbacks):
    Hello().send()
    sent = Delivery.objects.get()
    row = receive(django_capture_on_commit_callbacks, subject="Re: Hello",
                  In_Reply_To=sent.message_id)
    reply_page = admin_client.get(f"/admin/txmail/inboundmessage/{row.pk}/change/")
    assert f"/admin/txmail/delivery/{sent.pk}/change/" in reply_page.content.decode()
    delivery_page = admin_client.get(f"/admin/txmail/delivery/{sent.pk}/change/")
    text = delivery_page.content.decode()
    assert "Replies" in text and "Re: Hello" in text
    assert f"/admin/txmail/inboundmessage/{row.pk}/change/" in text


def test_the_action_processes_messages_again(admin_client, django_capture_on_commit_callbacks):
    row = receive(django_capture_on_commit_callbacks, "nobody@example.com")
    assert row.status == Status.BOUNCED

    class Late(Mailbox):
        route = "nobody@example.com"

        def process(self, inbound):
            return "a mailbox for it now"

    mailboxes.register(Late)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post("/admin/txmail/inboundmessage/", {
                "action": "process_again", "_selected_action": [row.pk]}, follow=True)
    finally:
        mailboxes.unregister(Late)
    assert "1 message handed to a worker to be processed again." in response.content.decode()
    row.refresh_from_db()
    assert (row.status, row.outcome, row.error, row.attempts) == (
        Status.PROCESSED, "a mailbox for it now", "", 1)


# -- anymail's inbound webhooks -------------------------------------------------------

def post_sendgrid_raw(client, raw, envelope, headers=AUTH):
    return client.post("/webhooks/sendgrid/inbound/", {
        "email": raw.decode(), "envelope": json.dumps(envelope)}, headers=headers)


@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")
def test_a_providers_inbound_webhook_stores_and_processes_the_message(
        client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_sendgrid_raw(client, raw_message(), {
            "to": ["support@example.com"], "from": "ann@customer.example"})
    assert response.status_code == 200
    row = InboundMessage.objects.get()
    assert (row.source, row.envelope_recipient, row.envelope_sender, row.status) == (
        "SendGrid", "support@example.com", "ann@customer.example", Status.PROCESSED)
    assert row.outcome == "ticket: Where is my order? / Order 1042. / reply to None"


def test_without_an_envelope_the_routed_header_addresses_get_the_message(
        client, django_capture_on_commit_callbacks):
    # Postmark's inbound JSON, its raw MIME included; no OriginalRecipient: no envelope.
    raw = raw_message(to="Shop <support@example.com>, friend@elsewhere.example",
                      Cc="orders@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/webhooks/postmark/inbound/", data=json.dumps({
            "RawEmail": raw.decode(), "Headers": [], "MessageID": "abc"}),
            content_type="application/json", headers=AUTH)
    assert response.status_code == 200
    assert list(InboundMessage.objects.order_by("pk").values_list(
        "source", "envelope_recipient", "status")) == [
        ("Postmark", "support@example.com", Status.PROCESSED),
        ("Postmark", "orders@example.org", Status.PROCESSED)]


@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")
def test_an_inbound_webhook_without_the_secret_stores_nothing(client):
    response = post_sendgrid_raw(client, raw_message(), {"to": ["support@example.com"],
                                                         "from": "x@y.example"}, headers={})
    # anymail's basic auth refuses it: AnymailWebhookValidationFailure, a
    # SuspiciousOperation, which Django answers 400.
    assert response.status_code == 400
    with override_settings(ANYMAIL={}):  # no secret: txmail's guard refuses everyone
        assert post_sendgrid_raw(client, raw_message(), {"to": ["support@example.com"],
                                                         "from": "x@y.example"}).status_code == 403
    assert not InboundMessage.objects.exists()


# -- the checks -----------------------------------------------------------------------

@override_settings(ANYMAIL={})
def test_inbound_webhooks_without_a_secret_are_an_error_of_their_own():
    [error] = check_inbound_webhook_secret()
    assert (type(error), error.id) == (checks.Error, "txmail.E113")
    assert error.msg == (
        "Inbound mail webhooks are mounted at /webhooks/amazon_ses/inbound/, "
        "/webhooks/mailjet/inbound/ and 3 more without a webhook secret: anyone could post a "
        "message your mailboxes would process as if its From address sent it (txmail's guard "
        "refuses them all until a secret is set).")
    with override_settings(DEBUG=True):
        assert [m.id for m in check_inbound_webhook_secret()] == ["txmail.W113"]


def test_inbound_webhooks_with_a_secret_pass():
    assert check_inbound_webhook_secret() == []


def test_two_mailboxes_with_one_route_are_an_error():
    class Helpdesk(Mailbox):
        route = "Support@example.com"

    class Answers(Mailbox):
        route = "reply+{answer}@example.com"  # Comments' route, another placeholder name

    mailboxes.register(Helpdesk)
    mailboxes.register(Answers)
    try:
        errors = check_routes()
    finally:
        mailboxes.unregister(Helpdesk)
        mailboxes.unregister(Answers)
    assert [e.id for e in errors] == ["txmail.E110", "txmail.E110"]
    assert errors[0].msg == (
        "The mailboxes tests.inboundapp.mailboxes.Comments, tests.test_inbound_pages.Answers "
        "have the same route 'reply+{token}@example.com': mail to it goes to "
        "tests.inboundapp.mailboxes.Comments only.")
    assert errors[1].msg.startswith(
        "The mailboxes tests.inboundapp.mailboxes.Support, tests.test_inbound_pages.Helpdesk "
        "have the same route 'support@example.com'")
    assert check_routes() == []


@override_settings(TXMAIL={"INBOUND": {"DOMAINS": ["example.com"]}})
def test_a_route_outside_the_allowed_domains_is_an_error():
    [error] = check_routes()
    assert error.id == "txmail.E111"
    assert error.msg == (
        "The mailbox tests.inboundapp.mailboxes.Orders's route '*@example.org' is at "
        "'example.org', which TXMAIL['INBOUND']['DOMAINS'] doesn't list: the listener "
        "refuses its mail (550 relaying denied).")
    with override_settings(TXMAIL={"INBOUND": {"DOMAINS": ["example.com", "Example.ORG"]}}):
        assert check_routes() == []


def test_a_reply_mailbox_without_a_token_is_an_error():
    class BadNotice(Notice):
        reply_mailbox = boxes.Support

    register(BadNotice)
    try:
        [error] = check_reply_mailboxes()
    finally:
        unregister(BadNotice)
    assert error.id == "txmail.E112"
    assert "route has '{token}' once" in error.msg
    register(Notice)
    try:
        assert check_reply_mailboxes() == []
    finally:
        unregister(Notice)
