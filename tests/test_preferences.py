"""The preference centre: its page, its signed links, and what the choices stop.

Real parts: Django's test client with CSRF checks on (as a browser), aiosmtpd on
loopback (what the server received), the immediate task backend for enqueue().
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.checks import run_checks
from django.template import Context, Template
from django.test import override_settings

from tests.smtp import SMTPServer
from tests.testapp.emails import Bulletin, Hello
from tests.testapp.models import Subscriber
from txmail import DeliveryOptions, registry
from txmail.bulk.bulk_message import BulkMessage
from txmail.bulk.tokens import (
    PREFERENCES_SALT,
    make_preferences_token,
    make_token,
    read_preferences_token,
)
from txmail.contrib.auth import PasswordReset
from txmail.delivery.models import Delivery, Status
from txmail.exceptions import MessageConfigurationError
from txmail.suppression.check import suppress
from txmail.suppression.models import Reason, Suppression

ADDRESS = "ann@example.com"
SITE = "https://shop.example.com"


class Digest(Hello):
    """A transactional class of the "digest" topic."""

    delivery_options = DeliveryOptions(topic="digest")


class SecurityAlert(Hello):
    """A critical class with a topic: listed, always sent."""

    delivery_options = DeliveryOptions(topic="security", critical=True)


@pytest.fixture(autouse=True)
def classes():
    for cls in (Digest, SecurityAlert):
        registry.register(cls)
    yield
    for cls in (Digest, SecurityAlert):
        registry.unregister(cls)


@pytest.fixture
def client(client):
    return type(client)(enforce_csrf_checks=True)


@pytest.fixture
def server():
    server = SMTPServer().start()
    with override_settings(MAILERS={a: server.mailer() for a in ("default", "transactional")}):
        yield server
    server.stop()


def url(address=ADDRESS):
    return f"/mail/preferences/{make_preferences_token(address)}/"


def entries():
    return sorted(Suppression.objects.values_list("address", "topic", "reason"))


def choose(client, *topics, everything=False, address=ADDRESS):
    """Open the page as a browser does, tick ``topics`` only, and submit it."""
    page = client.get(url(address)).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    data = {"csrfmiddlewaretoken": csrf, "topic": list(topics)}
    if everything:
        data["everything"] = "1"
    return client.post(url(address), data)


@pytest.fixture
def enqueue(django_capture_on_commit_callbacks):
    """``message.enqueue()`` committed: the immediate task backend sends it; its row."""
    def enqueue(message):
        with django_capture_on_commit_callbacks(execute=True):
            row = message.enqueue().delivery
        row.refresh_from_db()
        return row
    return enqueue


def received(server):
    return [(r.rcpt_tos, r.message["Subject"]) for r in server.received]


def test_the_page_lists_every_topic_with_its_label_and_state(client):
    settings = {"TOPICS": {"digest": {"label": "Weekly digest",
                                      "description": "What happened this week."},
                           "offers": {"label": "Offers"}}}
    suppress(ADDRESS, Reason.UNSUBSCRIBED, topic="offers")
    suppress(ADDRESS, Reason.UNSUBSCRIBED, topic="bulletin-fr")  # no class names it
    with override_settings(TXMAIL=settings):
        response = client.get(url("Ann@Example.com"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Choose which emails <strong>ann@example.com</strong> gets." in page
    lines = re.findall(r'<p class="topic">\s*(.*?)</p>', page, re.S)
    labels = [re.search(r"<label[^>]*>(.*?)</label>", line)[1] for line in lines]
    # TXMAIL["TOPICS"] in order, then the classes' topics by name, then the address's own.
    assert labels == ["Weekly digest", "Offers", "Bulletin", "Security", "Bulletin fr"]
    assert "What happened this week." in lines[0]
    assert 'value="digest"' in lines[0] and " checked" in lines[0]
    assert 'value="offers"' in lines[1] and " checked" not in lines[1]
    # The critical class's topic: no switch, nothing the form could send.
    assert "disabled" in lines[3] and "always sent" in lines[3] and 'name="topic"' not in lines[3]
    assert 'value="bulletin-fr"' in lines[4] and " checked" not in lines[4]
    assert "password resets and security alerts, are always sent" in page
    assert 'name="everything" value="1" id="everything">' in page  # not checked


def test_an_opt_out_stops_the_topic_but_not_a_critical_message_and_opting_in_undoes_it(
        client, server, enqueue):
    user = get_user_model().objects.create_user("ann", ADDRESS)
    response = choose(client, "bulletin")  # everything but bulletin left unticked
    assert response.status_code == 200
    assert "Your preferences are saved." in response.content.decode()
    assert entries() == [(ADDRESS, "digest", Reason.UNSUBSCRIBED)]

    assert Digest(name="now").send().suppressed == {ADDRESS: Reason.UNSUBSCRIBED}
    assert enqueue(Digest(name="queued")).status == Status.SUPPRESSED
    SecurityAlert(name="alert").send()
    enqueue(PasswordReset(user, site_url=SITE))
    assert received(server) == [([ADDRESS], "Hello alert"),
                                ([ADDRESS], "Password reset on shop.example.com")]
    assert list(Delivery.objects.filter(critical=True).values_list("status", flat=True)) == [
        Status.SENT, Status.SENT]

    server.received.clear()
    choose(client, "bulletin", "digest")
    assert entries() == []
    Digest(name="again").send()
    assert received(server) == [([ADDRESS], "Hello again")]


def test_unsubscribing_from_everything_stops_all_but_critical_messages(client, server):
    user = get_user_model().objects.create_user("ann", ADDRESS)
    choose(client, "bulletin", "digest", everything=True)
    assert entries() == [(ADDRESS, "", Reason.UNSUBSCRIBED)]
    assert Hello(name="plain").send().suppressed == {ADDRESS: Reason.UNSUBSCRIBED}
    assert Digest(name="topic").send().suppressed == {ADDRESS: Reason.UNSUBSCRIBED}
    PasswordReset(user, site_url=SITE).send()
    assert received(server) == [([ADDRESS], "Password reset on shop.example.com")]
    page = client.get(url()).content.decode()
    assert 'name="everything" value="1" id="everything" checked>' in page
    choose(client, "bulletin", "digest")
    assert entries() == []


@pytest.mark.parametrize("reason", [Reason.BOUNCED, Reason.COMPLAINED, Reason.MANUAL])
def test_a_bounced_or_complaining_address_never_gets_a_critical_message(server, enqueue,
                                                                        reason):
    user = get_user_model().objects.create_user("ann", ADDRESS)
    suppress(ADDRESS, reason)
    sent = PasswordReset(user, site_url=SITE).send()
    queued = enqueue(PasswordReset(user, site_url=SITE))
    assert received(server) == []
    assert sent.suppressed == {ADDRESS: reason}
    assert (queued.status, queued.critical) == (Status.SUPPRESSED, True)


def test_a_critical_message_ignores_an_opt_out_of_its_own_topic(server, enqueue):
    suppress(ADDRESS, Reason.UNSUBSCRIBED, topic="security")  # e.g. by a provider's webhook
    assert enqueue(SecurityAlert(name="alert")).status == Status.SENT
    assert received(server) == [([ADDRESS], "Hello alert")]


def test_opting_in_never_lifts_a_bounce_a_complaint_or_an_entry_by_hand(client):
    suppress(ADDRESS, Reason.BOUNCED, source="ses")
    suppress(ADDRESS, Reason.MANUAL, topic="digest", source="admin")
    before = entries()
    page = choose(client, "bulletin", "digest").content.decode()
    assert entries() == before
    assert "No email reaches this address whatever you choose here (hard bounce)." in page
    assert "Stopped whatever you choose (added by hand)." in page
    # Opting out keeps the entry by hand as it is, too.
    choose(client, "bulletin")
    assert entries() == before


TAMPERED = {
    "one character changed": lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
    "an unsubscribe token": lambda t: make_token(ADDRESS, "digest"),
    "another site's key": lambda t: signing.Signer(key="another-secret-key",
                                                   salt=PREFERENCES_SALT).sign_object(
        [ADDRESS], compress=True),
    "signed, not an address": lambda t: signing.Signer(salt=PREFERENCES_SALT).sign_object(
        ["not an address"], compress=True),
    "not signed": lambda t: "ann@example.com",
}


@pytest.mark.parametrize("kind", TAMPERED)
def test_a_tampered_or_foreign_token_gets_the_invalid_page_and_changes_nothing(client, kind):
    suppress(ADDRESS, Reason.UNSUBSCRIBED, topic="digest")
    before = entries()
    token = TAMPERED[kind](make_preferences_token(ADDRESS))
    with pytest.raises(signing.BadSignature):
        read_preferences_token(token)
    bad = f"/mail/preferences/{token}/"
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"',
                     client.get(url()).content.decode())[1]
    for response in (client.get(bad),
                     client.post(bad, {"csrfmiddlewaretoken": csrf, "topic": ["digest"]})):
        assert response.status_code == 400
        page = response.content.decode()
        assert "This preferences link is not valid" in page
        assert ADDRESS not in page
    assert entries() == before


def test_a_preferences_token_is_no_unsubscribe_token(client):
    response = client.post(f"/mail/unsubscribe/{make_preferences_token(ADDRESS)}/",
                           "List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert entries() == []


def test_a_post_without_the_csrf_token_is_refused(client):
    client.get(url())  # the CSRF cookie, as a browser has it
    response = client.post(url(), {"topic": []})
    assert response.status_code == 403
    assert entries() == []


def test_the_unsubscribe_pages_link_to_the_preference_centre(client):
    unsubscribe = f"/mail/unsubscribe/{make_token('Ann@example.com', 'bulletin')}/"
    for response in (client.get(unsubscribe),
                     client.post(unsubscribe, "List-Unsubscribe=One-Click",
                                 content_type="application/x-www-form-urlencoded")):
        assert f'<a href="{url()}">Choose which emails you get</a>' in response.content.decode()
    # One-click still records the unsubscribe; the centre shows it.
    assert entries() == [(ADDRESS, "bulletin", Reason.UNSUBSCRIBED)]
    assert 'value="bulletin" id="topic-1">' in client.get(url()).content.decode()


def test_the_unsubscribe_page_says_an_unsubscribe_from_everything_stays(client):
    suppress(ADDRESS, Reason.UNSUBSCRIBED)
    page = client.get(f"/mail/unsubscribe/{make_token(ADDRESS, 'bulletin')}/").content.decode()
    assert "whatever you choose here (unsubscribed from everything)." in page


@override_settings(TXMAIL={"SITE_URL": "https://shop.example.com"})
def test_bulk_messages_and_the_template_tag_give_the_signed_link(client):
    message = Bulletin(Subscriber(name="Ann", email="Ann@Example.com"),
                       context={"title": "June"})
    expected = "https://shop.example.com" + url()
    assert message.get_context_data()["preferences_url"] == expected
    rendered = Template("{% load txmail %}{% preferences_url email %}").render(
        Context({"email": "ANN@example.com"}))
    assert rendered == expected
    assert client.get(url()).status_code == 200


def test_a_bulk_class_cant_be_critical():
    with pytest.raises(MessageConfigurationError, match=r"^Loud.delivery_options has "
                       r"critical=True: bulk mail can't be critical"):
        class Loud(BulkMessage):
            template_name = "testapp/emails/bulletin"
            delivery_options = DeliveryOptions(topic="news", critical=True)


def test_critical_must_be_a_bool_and_is_kept_by_a_copy():
    with pytest.raises(MessageConfigurationError,
                       match=r"critical must be True or False"):
        DeliveryOptions(critical="yes")
    row = Delivery(critical=True, recipients=[ADDRESS])
    assert row.copy().critical is True


@pytest.mark.parametrize(("value", "problem"), [
    (["digest"], "it is not a dict"),
    ({"digest": "Weekly"}, "'digest' maps to 'Weekly'"),
    ({"digest": {"lable": "Weekly"}}, "'digest' has the unknown field 'lable': did you mean "
                                      "'label'?"),
    ({"": {}}, "the key '' is not a topic name"),
    ({"digest": {"label": 3}}, "'digest''s 'label' is 3, not a string"),
])
def test_a_bad_topics_setting_is_an_error_that_says_why(value, problem):
    with override_settings(TXMAIL={"TOPICS": value}):
        errors = [e for e in run_checks() if e.id == "txmail.E003"]
    assert len(errors) == 1
    assert problem in errors[0].msg


def test_a_topics_key_close_to_a_class_topic_is_a_warning():
    with override_settings(TXMAIL={"TOPICS": {"diggest": {}, "partners": {}, "digest": {}}}):
        warnings = [e for e in run_checks() if e.id == "txmail.W070"]
    assert [w.msg for w in warnings] == [
        "TXMAIL['TOPICS'] has 'diggest', which no registered class's delivery_options names: "
        "did you mean 'digest'? The preference centre would list both, and 'digest' without "
        "its label. Rename the key."]
