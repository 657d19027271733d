"""The admin's delivery and campaign pages through Django's test client.

Messages are sent for real (aiosmtpd on loopback) so the rows hold what the
queue stores; the browser checks (frame rendering, row heights) are in
tests/test_admin_browser.py.
"""

import html
import re
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.smtp import SMTPServer
from tests.testapp.emails import Bulletin, Hello
from tests.testapp.models import Subscriber
from txmail.bulk.models import Campaign, CampaignStatus
from txmail.delivery.models import Delivery, Status

pytestmark = pytest.mark.smtp  # tests/urls.py: the admin, and the unsubscribe view


@pytest.fixture
def server():
    server = SMTPServer().start()
    with override_settings(MAILERS={a: server.mailer() for a in ("default", "transactional")},
                           TXMAIL={"KEEP_BODIES": True}):
        yield server
    server.stop()


def page_of(client, row):
    response = client.get(f"/admin/txmail/delivery/{row.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def sections(text):
    """The page's section headings, in order."""
    return [html.unescape(h).strip() for h in re.findall(r"<h2[^>]*>(.*?)</h2>", text, re.S)]


def test_a_deliverys_page_reads_summary_message_events_internals(server, admin_client):
    Hello(name="Ada").send()
    row = Delivery.objects.get()
    text = page_of(admin_client, row)
    headings = sections(text)
    order = [headings.index(h) for h in ("Summary", "Message", "Delivery events", "Internals")]
    assert order == sorted(order), headings
    summary = text[text.index("Summary"):text.index("tx-message")]
    for shown in ("Hello Ada", "ann@example.com", "transactional", "testapp.Hello", "1 of 1"):
        assert shown in summary
    assert "claim" not in summary.lower() and "handoff" not in summary.lower()
    # The internals are folded: a <details> that isn't open, after the events.
    internals = text[text.index('class="module aligned collapse tx-internals"'):]
    assert re.match(r'[^>]*>\s*<details>\s*<summary>', internals)
    assert "Claim token" in internals or "claim token" in internals.lower()
    assert "Needs handoff" in internals or "needs handoff" in internals.lower()


def test_the_message_is_shown_in_a_sandboxed_frame_with_its_text_and_headers(
        server, admin_client):
    Hello(name="Ada").send()
    row = Delivery.objects.get()
    text = page_of(admin_client, row)
    [frame] = re.findall(r"<iframe[^>]*>", text)
    sandbox = re.search(r'sandbox="([^"]*)"', frame).group(1)
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
    url = html.unescape(re.search(r'src="([^"]*)"', frame).group(1))
    assert url == f"/admin/txmail/delivery/{row.pk}/html/"
    message = text[text.index("tx-message"):]
    assert "Hello Ada!" in html.unescape(message[message.index('class="tx-text"'):])
    assert re.search(r"<th[^>]*>Message-ID</th><td>&lt;", message)
    assert "<th scope=\"row\">Subject</th><td>Hello Ada</td>" in message

    response = admin_client.get(url)
    assert response.status_code == 200
    assert "Hello Ada!" in response.content.decode()
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox ") and "allow-scripts" not in csp
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_the_html_needs_the_admin(server, admin_client, client):
    Hello().send()
    row = Delivery.objects.get()
    admin_client.logout()
    response = client.get(f"/admin/txmail/delivery/{row.pk}/html/")
    assert response.status_code == 302 and "/admin/login/" in response.headers["Location"]


def test_a_dropped_body_says_why(server, admin_client, django_capture_on_commit_callbacks):
    with override_settings(TXMAIL={"KEEP_BODIES": False}):
        with django_capture_on_commit_callbacks(execute=True):
            Hello().enqueue()
    row = Delivery.objects.get()
    assert row.status == Status.SENT and row.raw is None
    with override_settings(TXMAIL={"KEEP_BODIES": False}):
        text = html.unescape(page_of(admin_client, row))
    assert "Body dropped after sending (TXMAIL['KEEP_BODIES'] is off" in text
    assert "<iframe" not in text
    assert admin_client.get(f"/admin/txmail/delivery/{row.pk}/html/").status_code == 404


@override_settings(TXMAIL={"KEEP_BODIES": True})
def test_a_body_dropped_by_the_retention_says_so(admin_client):
    row = Delivery.objects.create(mailer="default", from_email="shop@example.com",
                                  recipients=["jane@example.com"], subject="Hi",
                                  status=Status.FAILED, queued=True)
    text = html.unescape(page_of(admin_client, row))
    assert "Body dropped 7 days after the delivery ended (TXMAIL['BODY_RETENTION'])." in text


def test_a_secret_body_says_it_is_not_stored(admin_client):
    row = Delivery.objects.create(mailer="default", from_email="shop@example.com",
                                  recipients=["jane@example.com"], subject="Reset",
                                  status=Status.SENT, secret_body=True, queued=True)
    text = html.unescape(page_of(admin_client, row))
    assert "Secret body: not stored." in text


def test_the_last_error_comes_with_what_to_do(admin_client):
    row = Delivery.objects.create(mailer="default", from_email="shop@example.com",
                                  recipients=["jane@example.com"], subject="Hi",
                                  status=Status.UNKNOWN, attempts=1, max_attempts=5,
                                  last_error="DeliveryOutcomeUnknown: connection lost")
    text = html.unescape(page_of(admin_client, row))
    error = text[text.index('class="tx-error"'):]
    assert error.startswith('class="tx-error">DeliveryOutcomeUnknown: connection lost<')
    assert "check the recipient's mailbox or the provider's log" in error
    assert "1 of 5" in text


LONG = "A subject that goes on and on " * 12


def many_rows(n):
    now = timezone.now()
    Delivery.objects.bulk_create(
        Delivery(mailer="transactional", sent_via="backup", from_email="shop@example.com",
                 recipients=[f"user{i}@example.com"], recipients_text=f"user{i}@example.com",
                 subject=f"{i} {LONG}", message_class="testapp.Hello", status=Status.SENT,
                 attempts=1, sent_at=now, raw=b"x" * 10_000, message_id=f"<{i}@example.com>")
        for i in range(n))


def test_the_list_cuts_long_cells_and_keeps_their_text_in_a_tooltip(admin_client):
    many_rows(3)
    text = admin_client.get("/admin/txmail/delivery/").content.decode()
    cells = re.findall(r'<td class="field-subject_cell">(.*?)</td>', text)
    assert len(cells) == 3
    for shown in cells:
        title = html.unescape(re.search(r'title="([^"]*)"', shown).group(1))
        visible = html.unescape(re.sub(r"<[^>]+>", "", shown))
        assert title.endswith(LONG) and len(visible) <= 120 and visible.endswith("…")
    assert "transactional → backup" in html.unescape(text)
    assert "txmail/admin.css" in text


def test_a_thousand_row_list_takes_a_bounded_number_of_queries(
        admin_client, django_assert_max_num_queries):
    many_rows(1000)
    for query in ({}, {"status__exact": "sent"}, {"q": "user99"}):
        with django_assert_max_num_queries(12) as captured:
            response = admin_client.get("/admin/txmail/delivery/", query)
        assert response.status_code == 200
        # The page's rows come without their message bytes.
        listed = [q["sql"] for q in captured.captured_queries
                  if q["sql"].startswith('SELECT "txmail_delivery"."id"')]
        assert listed and all('"raw"' not in sql for sql in listed), listed
    assert response.content.decode().count('<td class="field-subject_cell">') == 11  # user99*


# -- campaigns -----------------------------------------------------------------


@pytest.fixture
def campaign(server, django_capture_on_commit_callbacks):
    Subscriber.objects.bulk_create(
        Subscriber(name=f"Name {i}", email=f"user{i}@example.com") for i in range(4))
    with override_settings(TXMAIL={"SITE_URL": "https://shop.example.com"}):
        with django_capture_on_commit_callbacks(execute=True):
            campaign = Bulletin.send_bulk(Subscriber.objects.all(), title="June")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
    return campaign


def campaign_page(client, campaign):
    response = client.get(f"/admin/txmail/campaign/{campaign.pk}/change/")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_a_campaigns_page_is_read_only_and_shows_its_mailer(campaign, admin_client):
    text = campaign_page(admin_client, campaign)
    submit_row = re.search(r'<div class="submit-row">(.*?)</div>', text, re.S).group(1)
    assert "<input" not in submit_row and "Save" not in submit_row, submit_row
    assert 'name="_save"' not in text and 'name="_continue"' not in text
    assert "Delete" in text  # a finished campaign may be deleted
    mailer = re.search(r'field-mailer_used.*?<div class="readonly">(.*?)</div>', text, re.S)
    assert mailer.group(1) == "default (TXMAIL['DEFAULT_MAILER']); sent via default: 4"


def test_a_running_campaign_cannot_be_deleted(campaign, admin_client):
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.RUNNING)
    text = campaign_page(admin_client, campaign)
    assert "deletelink" not in text


def test_a_finished_campaign_shows_its_overall_rate(campaign, admin_client):
    # Four sends over the ten seconds from its start to its last send.
    rows = Delivery.objects.filter(campaign_recipient__campaign=campaign)
    start = timezone.now() - timedelta(hours=1)
    Campaign.objects.filter(pk=campaign.pk).update(created_at=start,
                                                   finished_at=start + timedelta(seconds=2))
    rows.update(sent_at=start + timedelta(seconds=10))
    text = campaign_page(admin_client, campaign)
    rate = re.search(r'field-overall_rate.*?<div class="readonly">(.*?)</div>', text, re.S)
    assert rate.group(1) == "0.4/s"
    live = re.search(r'field-live_rate.*?<div class="readonly">(.*?)</div>', text, re.S)
    assert live.group(1) == "-"  # the last minute's rate is no news once done
    listing = html.unescape(admin_client.get("/admin/txmail/campaign/").content.decode())
    assert re.search(r'<td class="field-overall_rate">0\.4/s</td>', listing)


def test_a_campaign_sent_with_using_shows_that_mailer(server, admin_client,
                                                      django_capture_on_commit_callbacks):
    Subscriber.objects.create(name="Ann", email="ann@example.com")
    with override_settings(TXMAIL={"SITE_URL": "https://shop.example.com"}):
        with django_capture_on_commit_callbacks(execute=True):
            campaign = Bulletin.send_bulk(Subscriber.objects.all(), using="transactional",
                                          title="June")
    text = campaign_page(admin_client, campaign)
    assert "transactional (send_bulk(using=...)); sent via transactional: 1" in text


def test_inline_images_show_in_the_frame_and_refusals_in_the_summary(admin_client):
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = "Logo", "shop@example.com", "ann@example.com"
    msg.set_content("Logo below")
    msg.add_alternative('<p>Logo: <img src="cid:logo@shop"></p>', subtype="html")
    msg.get_body(("html",)).add_related(b"\x89PNG fake", "image", "png", cid="<logo@shop>",
                                         filename="logo.png")
    row = Delivery.objects.create(
        mailer="default", from_email="shop@example.com", queued=True,
        recipients=["ann@example.com", "bob@example.com", "cy@example.com"],
        refused={"bob@example.com": [550, "5.1.1 no such user"]},
        suppressed={"cy@example.com": "bounced"}, subject="Logo", status=Status.SENT,
        raw=msg.as_bytes())
    text = html.unescape(page_of(admin_client, row))
    assert "refused: bob@example.com (550 5.1.1 no such user)" in text
    assert "suppressed: cy@example.com (bounced)" in text
    assert "logo.png (image/png, 9\xa0bytes)" in text
    body = admin_client.get(f"/admin/txmail/delivery/{row.pk}/html/").content.decode()
    assert '<img src="data:image/png;base64,iVBORyBmYWtl">' in body
