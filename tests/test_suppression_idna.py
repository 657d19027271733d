"""One mailbox, two spellings: ``ann@bücher.example`` and ``ann@xn--bcher-kva.example``.

Every way onto the suppression list (suppress(), a webhook, the unsubscribe
link, the admin's save) stores one form, and every lookup uses it. Sends go
through ``Message.send()`` to the locmem mailer (Django's test runner swaps it in).
"""

from importlib import import_module

import pytest
from django.apps import apps
from django.core import mail
from django.test import override_settings

from tests import webhook_payloads as payloads
from tests.test_webhooks import post_sendgrid
from tests.testapp.emails import Bulletin, Hello
from tests.testapp.models import Subscriber
from txmail.bulk.tokens import make_token
from txmail.delivery.models import Delivery, Status
from txmail.suppression.check import filter_recipients, suppress, suppressed_among
from txmail.suppression.models import Suppression

UNICODE = "ann@bücher.example"
PUNYCODE = "ann@xn--bcher-kva.example"
SPELLINGS = [(UNICODE, PUNYCODE), (PUNYCODE, UNICODE)]


def assert_not_sent(sent):
    assert mail.outbox == []
    row = Delivery.objects.get(pk=sent.delivery_id)
    assert row.status == Status.SUPPRESSED


@pytest.mark.parametrize(("listed", "sent_to"), SPELLINGS)
def test_suppress_one_spelling_and_the_other_is_not_sent(listed, sent_to):
    suppress(listed.replace("ann", "Ann"), "bounced")
    assert list(Suppression.objects.values_list("address", flat=True)) == [PUNYCODE]
    assert_not_sent(Hello(to=[f"Ann <{sent_to}>"]).send())


@pytest.mark.parametrize(("listed", "looked_up"), SPELLINGS)
def test_suppressed_among_finds_either_spelling(listed, looked_up):
    suppress(listed, "complained")
    assert suppressed_among([f"Ann <{looked_up}>", "bob@example.com"]) == {PUNYCODE}


@pytest.mark.parametrize(("listed", "sent_to"), SPELLINGS)
def test_filter_recipients_removes_either_spelling(listed, sent_to):
    suppress(listed, "manual")
    email = Hello(to=[sent_to, "bob@example.com"]).message()
    assert filter_recipients(email) == {sent_to: "manual"}
    assert email.recipients() == ["bob@example.com"]


@pytest.mark.parametrize(("reported", "sent_to"), SPELLINGS)
def test_a_webhook_bounce_stops_mail_to_the_other_spelling(client, reported, sent_to):
    response = post_sendgrid(client, [payloads.sendgrid("bounce", reported, "unknown")])
    assert response.status_code == 200
    assert list(Suppression.objects.values_list("address", flat=True)) == [PUNYCODE]
    assert_not_sent(Hello(to=[sent_to]).send())


@override_settings(TXMAIL={"SITE_URL": "https://shop.example.com"})
@pytest.mark.parametrize(("unsubscribed", "sent_to"), SPELLINGS)
def test_the_unsubscribe_link_stops_the_topic_to_the_other_spelling(
        client, unsubscribed, sent_to):
    response = client.post(f"/mail/unsubscribe/{make_token(unsubscribed, 'bulletin')}/",
                           "List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert list(Suppression.objects.values_list("address", "topic")) == [
        (PUNYCODE, "bulletin")]
    sent = Bulletin(Subscriber(name="Ann", email=sent_to), context={"title": "June"}).send()
    assert_not_sent(sent)


def test_the_migration_canonicalises_and_merges_existing_entries():
    # Rows as an older txmail stored them: lowercased only (bulk_create skips save()).
    Suppression.objects.bulk_create([
        Suppression(address=UNICODE, reason="bounced", description="older"),
        Suppression(address=PUNYCODE, reason="complained", description="newer"),
        Suppression(address=UNICODE, topic="bulletin", reason="unsubscribed"),
        Suppression(address="bob@example.com", reason="manual"),
    ])
    migration = import_module("txmail.migrations.0006_suppression_canonical")
    migration.canonicalise(apps, None)
    assert sorted(Suppression.objects.values_list("address", "topic", "reason",
                                                  "description")) == [
        (PUNYCODE, "", "complained", "newer"),
        (PUNYCODE, "bulletin", "unsubscribed", ""),
        ("bob@example.com", "", "manual", ""),
    ]
