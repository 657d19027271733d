"""Erasure: an address gone from every txmail table, still suppressed through its hash.

Real parts: aiosmtpd on loopback (what it received, or didn't), every txmail
table searched with raw SQL, the command, the admin through Django's test client.
"""

import json
import re
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

import txmail
from tests.smtp import SMTPServer
from tests.testapp.emails import Hello
from txmail.bulk.models import Campaign, CampaignStatus, Chunk, Recipient
from txmail.bulk.tokens import make_preferences_token, make_token
from txmail.delivery.models import Delivery, Status
from txmail.suppression.check import suppress, suppressed_among
from txmail.suppression.erased import address_hash
from txmail.suppression.models import Suppression
from txmail.testing import traces_of
from txmail.webhooks.models import DeliveryEvent

pytestmark = pytest.mark.smtp

ANN = "ann@bücher.example"
ANN_IDNA = "ann@xn--bcher-kva.example"
# Ann's address in either spelling of its domain, any case, not inside a longer address.
ANYWHERE = re.compile(r"(?<![\w.+\-])ann@(bücher|xn--bcher-kva)\.example(?![\w\-])",
                      re.IGNORECASE)


@pytest.fixture
def server():
    server = SMTPServer().start()
    with override_settings(MAILERS={"transactional": server.mailer()},
                           TXMAIL={"KEEP_BODIES": True}):
        yield server
    server.stop()


def unescaped(text):
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


def raw_sql_hits():
    """Every (table, column) of every txmail model whose value names Ann, by raw SQL."""
    hits = set()
    with connection.cursor() as cursor:
        for model in apps.get_app_config("txmail").get_models():
            table = model._meta.db_table
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            names = [d[0] for d in cursor.description]
            for values in cursor.fetchall():
                for name, value in zip(names, values, strict=True):
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("utf-8", "replace")
                    elif isinstance(value, str) and value[:1] in ("[", "{", '"'):
                        value = unescaped(value)  # JSON text: "\u00fc" is ü
                    if value is not None and ANYWHERE.search(str(value)):
                        hits.add((table, name))
    return hits


def everywhere(server):
    """Ann in every table txmail has: sends, events, a campaign, the list."""
    both = Hello(to=[f"Ann <{ANN.upper()}>", "bob@example.com"]).send()
    Hello(to=[ANN_IDNA]).send()
    about_ann = Hello(name=ANN, to=["bob@example.com"]).send()  # her address in its subject
    joann = Hello(to=["joann@bücher.example"]).send()  # a longer address: not hers
    Hello(name="Bob", to=["bob@example.com"], reply_to=[ANN]).send()  # in the body only
    Delivery.objects.create(mailer="transactional", from_email="shop@example.com",
                            recipients=["bob@example.com"], status=Status.SUPPRESSED,
                            suppressed={f"Ann <{ANN.upper()}>": "bounced"})  # JSON, capitals
    bob = Hello(name="Bob", to=["bob@example.com"]).send()
    DeliveryEvent.objects.create(delivery_id=both.delivery_id, event_type="bounced",
                                 recipient=ANN_IDNA, esp_name="test",
                                 mta_response=f"550 {ANN_IDNA} unknown")
    DeliveryEvent.objects.create(delivery_id=bob.delivery_id, event_type="deferred",
                                 recipient="bob@example.com", esp_name="test",
                                 description=f"greylisted, like {ANN}")
    DeliveryEvent.objects.create(delivery_id=bob.delivery_id, event_type="delivered",
                                 recipient="bob@example.com", esp_name="test")
    done = Campaign.objects.create(message_class="testapp.Hello", model="auth.User",
                                   query=b"", status=CampaignStatus.DONE)
    Recipient.objects.create(campaign=done, key="1", delivery_id=both.delivery_id)
    Recipient.objects.create(campaign=done, key="2", delivery_id=bob.delivery_id)
    named = Campaign.objects.create(message_class="testapp.Hello", model="auth.User",
                                    query=b"", kwargs={"only": ANN_IDNA},
                                    status=CampaignStatus.CANCELLED)
    Chunk.objects.create(campaign=named, index=0, first_key="1", last_key="9")
    suppress(ANN, "bounced", description=f"550 5.1.1 <{ANN_IDNA}>: user unknown",
             source="test", delivery=Delivery.objects.get(pk=both.delivery_id))
    suppress(ANN_IDNA.upper(), "unsubscribed", topic="newsletter")
    suppress("bob@example.com", "manual", description=f"asked to stop, as {ANN} did")
    assert len(server.received) == 6
    return {"both": both.delivery_id, "about_ann": about_ann.delivery_id,
            "joann": joann.delivery_id, "bob": bob.delivery_id, "done": done.pk,
            "named": named.pk}


def test_erasure_leaves_nothing_of_the_address_but_its_hash(server):
    rows = everywhere(server)
    before = raw_sql_hits()  # the search finds her before: it can fail
    assert {("txmail_delivery", "recipients"), ("txmail_body", "raw"),
            ("txmail_delivery", "subject"), ("txmail_deliveryevent", "mta_response"),
            ("txmail_deliveryevent", "description"), ("txmail_suppression", "address"),
            ("txmail_suppression", "description"), ("txmail_campaign", "kwargs")} <= before
    assert {(t.model._meta.db_table, t.field) for t in traces_of(ANN)} == before

    counts = txmail.erase(f"Ann <{ANN.upper()}>")

    assert raw_sql_hits() == set()
    assert counts == {"deliveries": 5, "events": 2, "campaign recipients": 1, "campaigns": 1,
                      "suppressions hashed": 2, "suppression descriptions cleared": 1,
                      "idempotency keys": 0, "mailer hold-backs cleared": 0, "left": []}
    digest = address_hash(ANN)
    assert digest == address_hash(ANN_IDNA.upper())  # one hash for every spelling
    hashed = Suppression.objects.filter(address=digest).order_by("topic")
    assert [(e.topic, e.reason, e.source, e.delivery_id) for e in hashed] == [
        ("", "bounced", "test", None), ("newsletter", "unsubscribed", "", None)]
    assert hashed[0].description.startswith("Address erased; kept as a keyed hash")
    # Nobody else's rows went: Bob's own, and Joann's (a longer address, not hers).
    assert set(Delivery.objects.values_list("pk", flat=True)) == {rows["joann"], rows["bob"]}
    assert list(DeliveryEvent.objects.values_list("event_type", flat=True)) == ["delivered"]
    assert list(Recipient.objects.values_list("key", flat=True)) == ["2"]
    assert list(Campaign.objects.values_list("pk", flat=True)) == [rows["done"]]
    bob_entry = Suppression.objects.get(address="bob@example.com")
    assert bob_entry.reason == "manual"
    assert bob_entry.description.startswith("Description cleared: it named an erased address")


def test_an_erased_address_stays_suppressed_sent_or_queued(server,
                                                           django_capture_on_commit_callbacks):
    suppress(ANN, "complained")
    txmail.erase(ANN_IDNA)
    assert not Suppression.objects.filter(address=ANN_IDNA).exists()
    sent = Hello(to=[f"Ann <{ANN}>"]).send()
    assert sent.suppressed == {f"Ann <{ANN}>": "complained"}
    with django_capture_on_commit_callbacks(execute=True):
        queued = Hello(to=[ANN_IDNA.upper(), "bob@example.com"]).enqueue().delivery
    queued.refresh_from_db()
    assert [r.rcpt_tos for r in server.received] == [["bob@example.com"]]
    assert queued.suppressed == {ANN_IDNA.upper(): "complained"}
    assert Delivery.objects.get(pk=sent.delivery_id).status == Status.SUPPRESSED
    # The hash is keyed: a rotated SECRET_KEY keeps it while the old key is a fallback.
    old = settings.SECRET_KEY
    with override_settings(SECRET_KEY="a-new-key-" * 5, SECRET_KEY_FALLBACKS=[old]):
        assert suppressed_among([ANN]) == {ANN_IDNA}
    with override_settings(SECRET_KEY="a-new-key-" * 5, SECRET_KEY_FALLBACKS=[]):
        assert suppressed_among([ANN]) == set()


def test_a_topic_entry_stays_for_its_topic_only(server):
    suppress(ANN, "unsubscribed", topic="newsletter")
    txmail.erase(ANN)
    assert Hello(to=[ANN]).send().suppressed == {}  # no topic: it goes
    assert [r.rcpt_tos for r in server.received] == [[ANN_IDNA]]


def test_erasing_twice_or_after_listing_again_keeps_one_entry(server):
    suppress(ANN, "bounced")
    txmail.erase(ANN)
    suppress(ANN, "complained")  # a new report after the erasure
    counts = txmail.erase(ANN)
    assert counts["suppressions hashed"] == 1
    assert list(Suppression.objects.values_list("address", "reason")) == [
        (address_hash(ANN), "bounced")]


def test_a_running_campaign_naming_the_address_stops_it_before_anything(server):
    Hello(to=[ANN]).send()
    Campaign.objects.create(message_class="testapp.Hello", model="auth.User", query=b"",
                            kwargs={"to": ANN}, status=CampaignStatus.RUNNING)
    with pytest.raises(txmail.ErasureBlocked, match=r"is still running: nothing was erased\. "
                       r"Cancel it \(`manage.py txmail campaign cancel ID`\)"):
        txmail.erase(ANN)
    assert Delivery.objects.count() == 1


def test_not_an_address():
    with pytest.raises(txmail.InvalidAddress, match="isn't an email address"):
        txmail.erase("ann")
    with pytest.raises(txmail.InvalidAddress):
        txmail.erase(address_hash(ANN))


def test_the_command_counts_then_erases(server):
    everywhere(server)
    out = StringIO()
    call_command("txmail", "erase", ANN_IDNA, "--dry-run", stdout=out)
    assert out.getvalue().split("\n") == [
        "deliveries: 5", "events: 2", "campaign recipients: 1", "campaigns: 1",
        "suppressions hashed: 2", "suppression descriptions cleared: 1",
        "idempotency keys: 0", "mailer hold-backs cleared: 0", "Dry run: nothing was changed.", ""]
    assert Delivery.objects.count() == 7
    out = StringIO()
    call_command("txmail", "erase", ANN_IDNA, stdout=out)
    assert out.getvalue().endswith(
        "Erased. Its suppression entries stay, as a keyed hash of the address.\n")
    assert raw_sql_hits() == set()
    with pytest.raises(CommandError, match="isn't an email address"):
        call_command("txmail", "erase", "nobody")


@pytest.fixture
def admin(admin_client, admin_urls):
    return admin_client


def test_the_admin_action_asks_then_erases(server, admin):
    rows = everywhere(server)
    picked = {"action": "erase_everywhere", "_selected_action": [rows["both"], rows["bob"]]}
    page = admin.post("/admin/txmail/delivery/", picked)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Erase addresses everywhere" in html
    # Each recipient of the chosen rows, ticked, with what erasing it removes.
    assert f'value="{ANN_IDNA}"' in html and 'value="bob@example.com"' in html
    assert "deliveries: 5" in html
    assert Delivery.objects.count() == 7  # the page only asks
    response = admin.post("/admin/txmail/delivery/", {**picked, "post": "yes",
                                                      "address": [ANN_IDNA]})
    assert response.status_code == 302
    assert raw_sql_hits() == set()
    assert Delivery.objects.filter(pk=rows["bob"]).exists()  # Bob was not ticked
    messages = [str(m) for m in admin.get(response.url).context["messages"]]
    assert messages == [f"{ANN_IDNA} erased: deliveries: 5, events: 2, campaign recipients: 1, "
                        "campaigns: 1, suppressions hashed: 2, suppression descriptions "
                        "cleared: 1, idempotency keys: 0, mailer hold-backs cleared: 0."]


def test_the_admin_action_on_the_suppression_list(server, admin):
    entry = suppress(ANN, "bounced")
    Hello(to=[ANN]).send()
    picked = {"action": "erase_everywhere", "_selected_action": [entry.pk]}
    page = admin.post("/admin/txmail/suppression/", picked)
    assert f'value="{ANN_IDNA}"' in page.content.decode()
    admin.post("/admin/txmail/suppression/", {**picked, "post": "yes", "address": [ANN_IDNA]})
    assert raw_sql_hits() == set()
    assert list(Suppression.objects.values_list("address", flat=True)) == [address_hash(ANN)]
    # An erased entry offers nothing more to erase.
    page = admin.post("/admin/txmail/suppression/", picked)
    assert "name no address that can be erased" in page.content.decode()


def test_the_admin_filters_and_finds_erased_entries(server, admin):
    suppress(ANN, "bounced")
    suppress("bob@example.com", "manual")
    txmail.erase(ANN)
    erased = admin.get("/admin/txmail/suppression/?erased=yes").context["cl"].result_list
    assert [e.address for e in erased] == [address_hash(ANN)]
    kept = admin.get("/admin/txmail/suppression/?erased=no").context["cl"].result_list
    assert [e.address for e in kept] == ["bob@example.com"]
    # Searching for the address (any spelling) finds its hashed entry.
    found = admin.get("/admin/txmail/suppression/", {"q": ANN.upper()}).context["cl"]
    assert [e.address for e in found.result_list] == [address_hash(ANN)]


@override_settings(TXMAIL={"RETENTION": {"statuses": {"sent": 0}}})
def test_status_counts_rows_past_retention_and_erased_addresses(server):
    Hello(to=["bob@example.com"]).send()
    suppress(ANN, "bounced")
    txmail.erase(ANN)
    out = StringIO()
    call_command("txmail", "status", stdout=out)
    lines = out.getvalue().splitlines()
    assert "past TXMAIL['RETENTION']: 1 (workers delete them hourly; or run `manage.py " \
        "txmail prune`)" in lines
    assert "erased addresses kept suppressed as a hash: 1" in lines


def test_old_unsubscribe_links_see_the_erased_entry_and_lift_it(client):
    suppress(ANN, "unsubscribed", topic="bulletin")
    txmail.erase(ANN)
    link = f"/mail/unsubscribe/{make_token(ANN_IDNA, 'bulletin')}/"
    assert "You are unsubscribed" in client.get(link).content.decode()
    # Unsubscribing again stores nothing new: the hashed entry already says so.
    client.post(link, "List-Unsubscribe=One-Click",
                content_type="application/x-www-form-urlencoded")
    assert list(Suppression.objects.values_list("address", "topic")) == [
        (address_hash(ANN), "bulletin")]
    page = client.post(link, "resubscribe=1", content_type="application/x-www-form-urlencoded")
    assert "You are subscribed again" in page.content.decode()
    assert not Suppression.objects.exists()


def test_the_preference_centre_shows_an_erased_address_s_choices(client):
    suppress(ANN, "unsubscribed", topic="bulletin")
    txmail.erase(ANN)
    page = client.get(f"/mail/preferences/{make_preferences_token(ANN)}/").content.decode()
    line = next(p for p in re.findall(r'<p class="topic">\s*(.*?)</p>', page, re.S)
                if 'value="bulletin"' in p)
    assert " checked" not in line


def test_the_action_needs_the_delete_permission(server, client, admin_urls):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    staff = get_user_model().objects.create_user("op", "op@example.com", "pw", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(
        codename__in=["view_delivery", "change_delivery"]))
    client.force_login(staff)
    sent = Hello(to=[ANN]).send()
    choices = dict(client.get("/admin/txmail/delivery/").context["action_form"]
                   .fields["action"].choices)
    assert "retry_now" in choices and "erase_everywhere" not in choices
    response = client.post("/admin/txmail/delivery/", {
        "action": "erase_everywhere", "_selected_action": [sent.delivery_id], "post": "yes",
        "address": [ANN_IDNA]})
    assert response.status_code in (200, 302)
    assert Delivery.objects.filter(pk=sent.delivery_id).exists()
    staff.user_permissions.add(Permission.objects.get(codename="delete_delivery"))
    choices = dict(client.get("/admin/txmail/delivery/").context["action_form"]
                   .fields["action"].choices)
    assert "erase_everywhere" in choices
