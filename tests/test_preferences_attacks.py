"""The preference centre under attack: what a hostile review found, and what must hold.

Real parts: Django's test client with CSRF checks on, aiosmtpd on loopback (what
the server received), the immediate task backend for enqueue() and campaigns.
"""

import re
from dataclasses import replace

import pytest
from django.test import override_settings

from tests.smtp import SMTPServer
from tests.testapp.emails import Bulletin, Hello
from tests.testapp.models import Subscriber
from txmail import registry
from txmail.bulk.tokens import make_preferences_token, make_token
from txmail.delivery.models import Delivery, Status
from txmail.exceptions import MessageConfigurationError
from txmail.suppression.check import suppress
from txmail.suppression.models import Reason, Suppression

ADDRESS = "ann@example.com"
SITE = {"SITE_URL": "https://shop.example.com"}


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


def csrf_of(client, address=ADDRESS):
    page = client.get(url(address)).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]


class LoudBulletin(Bulletin):
    """A bulk class the class-level check can't see is critical: its hook makes it so."""

    def get_delivery_options(self):
        return replace(super().get_delivery_options(), critical=True)


def ann():
    return Subscriber(name="Ann", email=ADDRESS)


@override_settings(TXMAIL=SITE)
@pytest.mark.parametrize("how", ["hook send", "hook enqueue", "send(critical=True)",
                                 "enqueue(critical=True)"])
def test_bulk_mail_made_critical_per_message_is_refused(server, how,
                                                        django_capture_on_commit_callbacks):
    suppress(ADDRESS, Reason.UNSUBSCRIBED, topic="bulletin")
    message = (LoudBulletin if how.startswith("hook") else Bulletin)(
        ann(), context={"title": "June"})
    options = {} if how.startswith("hook") else {"critical": True}
    with (pytest.raises(MessageConfigurationError, match=r"given critical=True .*bulk mail "
                        r"can't be critical"),
          django_capture_on_commit_callbacks(execute=True)):
        (message.send if "send" in how else message.enqueue)(**options)
    assert server.received == []
    assert not Delivery.objects.filter(critical=True).exists()


@override_settings(TXMAIL=SITE)
def test_a_campaign_of_a_class_made_critical_sends_nothing(server,
                                                           django_capture_on_commit_callbacks):
    Subscriber.objects.create(name="Ann", email=ADDRESS)
    registry.register(LoudBulletin)
    suppress(ADDRESS, Reason.UNSUBSCRIBED, topic="bulletin")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            LoudBulletin.send_bulk(Subscriber.objects.all(), title="June")
    finally:
        registry.unregister(LoudBulletin)
    assert server.received == []
    assert list(Delivery.objects.values_list("status", "critical")) == [(Status.FAILED, False)]


# What held: kept as tests so it keeps holding.

def test_the_page_works_behind_login_required_middleware(client):
    middleware = ["django.middleware.security.SecurityMiddleware",
                  "django.contrib.sessions.middleware.SessionMiddleware",
                  "django.middleware.csrf.CsrfViewMiddleware",
                  "django.contrib.auth.middleware.AuthenticationMiddleware",
                  "django.contrib.auth.middleware.LoginRequiredMiddleware"]
    with override_settings(MIDDLEWARE=middleware):
        assert client.get(url()).status_code == 200
        response = client.post(url(), {"csrfmiddlewaretoken": csrf_of(client),
                                       "topic": ["bulletin"], "everything": "1"})
        assert response.status_code == 200
        assert client.get("/mail/preferences/nonsense/").status_code == 400
    assert entries() == [(ADDRESS, "", Reason.UNSUBSCRIBED)]


def test_labels_descriptions_and_the_address_are_escaped(client):
    topics = {"x<b>": {"label": "<script>alert(1)</script>", "description": "<img src=x>"}}
    with override_settings(TXMAIL={"TOPICS": topics}):
        page = client.get(url('"<script>"@example.com')).content.decode()
    assert "<script>alert" not in page and "<img src=x>" not in page
    assert '"<script>"@' not in page and 'value="x&lt;b&gt;"' in page


def test_a_token_changes_only_its_own_address_in_any_spelling(client):
    for address in ("ann+news@example.com", "ann@bücher.example", "bob@example.com"):
        suppress(address, Reason.UNSUBSCRIBED, topic="bulletin")
    # Posted topics nobody lists are ignored: they can't create entries.
    client.post(url(" Ann@EXAMPLE.com "), {"csrfmiddlewaretoken": csrf_of(client),
                                           "topic": ["bulletin", "made-up", ""]})
    assert entries() == [("ann+news@example.com", "bulletin", Reason.UNSUBSCRIBED),
                         ("ann@xn--bcher-kva.example", "bulletin", Reason.UNSUBSCRIBED),
                         ("bob@example.com", "bulletin", Reason.UNSUBSCRIBED)]
    punycode = "ann@xn--bcher-kva.example"
    assert make_preferences_token("Ann@Bücher.example") == make_preferences_token(punycode)
    client.post(url(punycode), {"csrfmiddlewaretoken": csrf_of(client, punycode),
                                "topic": ["bulletin"]})
    assert ("ann@xn--bcher-kva.example", "bulletin", Reason.UNSUBSCRIBED) not in entries()
    assert len(entries()) == 2


def test_get_head_and_options_change_nothing(client):
    for method in (client.get, client.head, client.options):
        assert method(url()).status_code == 200
    assert entries() == []


def test_one_click_still_works_and_its_token_opens_no_preference_page(client):
    token = make_token(ADDRESS, "bulletin")
    response = client.post(f"/mail/unsubscribe/{token}/", "List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert entries() == [(ADDRESS, "bulletin", Reason.UNSUBSCRIBED)]
    response = client.post(f"/mail/preferences/{token}/",
                           {"csrfmiddlewaretoken": csrf_of(client), "topic": ["bulletin"],
                            "everything": "1"})
    assert response.status_code == 400
    assert entries() == [(ADDRESS, "bulletin", Reason.UNSUBSCRIBED)]


STAGING = {"INTERCEPTORS": ["txmail.interceptors.StagingRedirect"],
           "STAGING_REDIRECT": {"to": "inbox@staging.example", "allow": ["example.com"]}}


@pytest.mark.parametrize("how", ["send", "enqueue"])
def test_an_interceptors_recipients_are_checked_for_critical_mail_too(
        server, how, django_capture_on_commit_callbacks):
    suppress("inbox@staging.example", Reason.BOUNCED)
    suppress(ADDRESS, Reason.UNSUBSCRIBED)
    with override_settings(TXMAIL=STAGING), django_capture_on_commit_callbacks(execute=True):
        # Redirected to the bounced staging inbox: not sent.
        getattr(Hello(name="away", to=["bob@elsewhere.example"]), how)(critical=True)
        # Allowed, opted out of everything: critical, so sent.
        getattr(Hello(name="kept"), how)(critical=True)
    assert [(r.rcpt_tos, r.message["Subject"]) for r in server.received] == [
        ([ADDRESS], "Hello kept")]
    assert sorted(Delivery.objects.values_list("status", flat=True)) == [
        Status.SENT, Status.SUPPRESSED]
