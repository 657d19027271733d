"""Which provider a class goes through on its preview page; each delivery's events in the admin."""

import html

from django.contrib.auth import get_user_model
from django.test import override_settings

from txmail.backends.describe import describe_mailer
from txmail.delivery.models import Delivery, Status
from txmail.webhooks.models import DeliveryEvent

MAILERS = {
    "ses": {"BACKEND": "anymail.backends.amazon_ses.EmailBackend"},
    "sendgrid": {"BACKEND": "txmail.backends.sendgrid.EmailBackend",
                 "OPTIONS": {"api_key": "SG.x"}},
    "backup": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
               "OPTIONS": {"host": "127.0.0.1", "port": 2525}},
    "bulk": {"BACKEND": "txmail.backends.roundrobin.EmailBackend",
             "OPTIONS": {"mailers": ["sendgrid", "backup"]}},
    "transactional": {"BACKEND": "txmail.backends.failover.EmailBackend",
                      "OPTIONS": {"mailers": ["ses", "bulk"]}},
}
TRANSACTIONAL = ("failover over ses (Amazon SES, django-anymail), bulk (round-robin over "
                 "sendgrid (SendGrid, django-anymail), backup (SMTP 127.0.0.1:2525))")


@override_settings(MAILERS=MAILERS)
def test_describe_mailer_follows_failover_and_round_robin():
    assert describe_mailer("transactional") == TRANSACTIONAL
    assert describe_mailer("nope") == "not in MAILERS"


def test_the_preview_shows_the_provider(client, settings):
    settings.DEBUG = True
    settings.MAILERS = MAILERS
    page = client.get("/emails/testapp.Hello/default/")
    assert page.status_code == 200
    assert TRANSACTIONAL in html.unescape(page.content.decode())


def test_the_admin_shows_each_deliverys_events(client, settings):
    settings.ROOT_URLCONF = "tests.admin_urls"
    client.force_login(get_user_model().objects.create_superuser("a", "a@example.com", "pw"))
    row = Delivery.objects.create(mailer="ses", from_email="shop@example.com",
                                  recipients=["jane@example.com"], status=Status.SENT,
                                  message_id="<1@example.com>")
    DeliveryEvent.objects.create(delivery=row, event_type="bounced",
                                 recipient="jane@example.com", esp_name="Amazon SES",
                                 description="Permanent: General",
                                 mta_response="smtp; 550 5.1.1 User unknown")
    page = client.get(f"/admin/txmail/delivery/{row.pk}/change/")
    assert page.status_code == 200
    text = html.unescape(page.content.decode())
    assert "Delivery events" in text
    for shown in ("bounced", "Permanent: General", "smtp; 550 5.1.1 User unknown",
                  "Amazon SES"):
        assert shown in text
    assert "Suppression list" in html.unescape(client.get("/admin/").content.decode())
