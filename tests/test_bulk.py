"""Bulk sending in-process: campaigns, chunks, exactly once, cancel, RFC 8058 unsubscribe.

Tasks run in-process (the ImmediateBackend) into a real aiosmtpd server; the
worker-process tests are in tests/test_bulk_workers.py.
"""

import re
from collections import Counter

import pytest
from django.contrib.admin.sites import site as admin_site
from django.contrib.auth.models import Permission, User
from django.core import signing
from django.test import RequestFactory, override_settings
from django.utils import timezone

from tests.faulty_smtp import FaultySMTPServer
from tests.smtp import SMTPServer
from tests.testapp.emails import Bulletin, BulletinByLanguage, BulletinWithArchive, Hello
from tests.testapp.models import Interest, Subscriber
from txmail import DeliveryOptions
from txmail.bulk import tasks as chunks
from txmail.bulk.bulk_message import BulkMessage
from txmail.bulk.models import Campaign, CampaignStatus, Chunk, ChunkStatus, Recipient
from txmail.bulk.tokens import make_token, read_token
from txmail.delivery import queue
from txmail.delivery.models import Delivery, Status
from txmail.exceptions import CampaignArgumentError, MessageConfigurationError
from txmail.suppression.models import Reason, Suppression

SITE = "https://shop.example.com"
LINK = re.compile(r"<(https://shop\.example\.com/mail/unsubscribe/([^/>]+)/)>")


@pytest.fixture
def server():
    server = SMTPServer().start()
    with override_settings(MAILERS={a: server.mailer() for a in ("default", "transactional")},
                           TXMAIL={"SITE_URL": SITE, "BATCH_SIZE": 4}):
        yield server
    server.stop()


def subscribers(n, **fields):
    return Subscriber.objects.bulk_create(
        Subscriber(name=f"Name {i}", email=f"user{i}@example.com", **fields)
        for i in range(n))


def by_address(server):
    found = {}
    for received in server.received:
        for rcpt in received.rcpt_tos:
            found.setdefault(rcpt, []).append(received.message)
    return found


def test_each_recipient_gets_one_message_with_their_own_data_and_link(
        server, django_capture_on_commit_callbacks):
    people = subscribers(11)
    with django_capture_on_commit_callbacks(execute=True):
        campaign = Bulletin.send_bulk(Subscriber.objects.all(), chunk_size=5, title="June")
    assert campaign.chunks.count() == 3
    got = by_address(server)
    assert sorted(got) == sorted(p.email for p in people)
    for person in people:
        [message] = got[person.email]
        assert message["Subject"] == f"June for {person.name}"
        url, token = LINK.fullmatch(message["List-Unsubscribe"]).groups()
        assert read_token(token) == (person.email, "bulletin")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        html = message.get_body(("html",)).get_content()
        assert f"Hello {person.name} ({person.pk})" in html
        assert f'href="{url}"' in html  # the visible link is the header's
    progress = campaign.progress()
    assert (progress.status, progress.total, progress.sent, progress.pending,
            progress.in_progress) == (CampaignStatus.DONE, 11, 11, 0, 0)


def test_a_mailto_is_offered_where_configured(server):
    with override_settings(TXMAIL={"SITE_URL": SITE, "UNSUBSCRIBE_MAILTO": "unsub@example.com"}):
        email = Bulletin(Subscriber(name="Ann", email="ann@example.com"),
                         context={"title": "x"}).message()
    token = make_token("ann@example.com", "bulletin")
    assert email.extra_headers["List-Unsubscribe"] == (
        f"<{SITE}/mail/unsubscribe/{token}/>, "
        f"<mailto:unsub@example.com?subject=unsubscribe%20{token.replace(':', '%3A')}>")


def test_the_mailto_is_percent_encoded_as_rfc_6068_asks(server):
    # '/', '?' and '=' are atext in an address but delimiters in a URI; the IDN
    # domain is written in IDNA, since the header is ASCII.
    address = "unsub+news/list?a=b@bücher.example"
    with override_settings(TXMAIL={"SITE_URL": SITE, "UNSUBSCRIBE_MAILTO": address}):
        Bulletin(Subscriber(name="Ann", email="ann@example.com"),
                 context={"title": "x"}).send()
    [received] = server.received
    token = make_token("ann@example.com", "bulletin")
    assert received.message["List-Unsubscribe"] == (
        f"<{SITE}/mail/unsubscribe/{token}/>, "
        "<mailto:unsub+news%2Flist%3Fa%3Db@xn--bcher-kva.example"
        f"?subject=unsubscribe%20{token.replace(':', '%3A')}>")


def test_a_bulk_class_with_a_bad_unsubscribe_mailto_fails_when_defined():
    with pytest.raises(MessageConfigurationError) as caught:
        class Smuggled(Bulletin):
            unsubscribe_mailto = "x@example.com>, <https://evil.example/u"
    assert str(caught.value) == (
        "Smuggled.unsubscribe_mailto must be one email address such as "
        "'unsubscribe@example.com', or None, not 'x@example.com>, <https://evil.example/u' "
        "(it isn't one email address: give only the addr-spec, without a name, <> or a "
        "second address).")


def test_a_bad_mailto_from_the_hook_builds_no_email(server):
    class Computed(Bulletin):
        abstract = True  # not registered

        def get_unsubscribe_mailto(self):
            return "not an address"

    with override_settings(TXMAIL={"SITE_URL": SITE}), pytest.raises(
            MessageConfigurationError) as caught:
        Computed(Subscriber(name="Ann", email="ann@example.com"), context={"title": "x"}).send()
    assert str(caught.value) == (
        "The address Computed.get_unsubscribe_mailto() returned must be one email address "
        "such as 'unsubscribe@example.com', or None, not 'not an address' (it isn't one "
        "email address: give only the addr-spec, without a name, <> or a second address).")
    assert server.received == []


def test_transactional_classes_get_no_unsubscribe_headers(server):
    email = Hello().message()
    assert "List-Unsubscribe" not in email.extra_headers
    assert "List-Unsubscribe-Post" not in email.extra_headers


def test_a_bulk_class_without_topic_fails_when_defined():
    with pytest.raises(MessageConfigurationError) as caught:
        type("NoTopic", (BulkMessage,), {"__module__": __name__, "template_name": "x"})
    assert str(caught.value) == (
        "NoTopic requires either a topic in 'delivery_options' (the list recipients "
        "unsubscribe from, e.g. delivery_options = DeliveryOptions(topic='newsletter')) or "
        "an implementation of 'get_delivery_options()'.")
    with pytest.raises(MessageConfigurationError):  # "" would unsubscribe from everything
        type("EmptyTopic", (BulkMessage,), {"__module__": __name__, "template_name": "x",
                                            "delivery_options": DeliveryOptions(topic="")})


def test_arguments_must_be_json(server):
    with pytest.raises(CampaignArgumentError) as caught:
        Bulletin.send_bulk(Subscriber.objects.all(), title="June",
                           owner=Subscriber(pk=1, name="Ann"))
    assert str(caught.value) == (
        "Bulletin.send_bulk() argument 'owner' is <Subscriber: Ann>, "
        "which can't be stored for the workers (Object of type Subscriber is not JSON "
        "serializable). Pass JSON values (str, int, float, bool, None, lists and dicts "
        "of them), e.g. a primary key instead of a model instance, and look the object "
        "up in get_bulk_message().")
    assert not Campaign.objects.exists()


def test_the_queryset_filter_is_applied_in_the_worker(server, django_capture_on_commit_callbacks):
    subscribers(6)
    Subscriber.objects.filter(pk__in=Subscriber.objects.order_by("pk").values("pk")[:2]).update(
        opted_in=False)
    with django_capture_on_commit_callbacks(execute=True):
        campaign = Bulletin.send_bulk(Subscriber.objects.filter(opted_in=True), chunk_size=2,
                                      title="June")
    assert campaign.total == 4
    assert sorted(by_address(server)) == sorted(
        Subscriber.objects.filter(opted_in=True).values_list("email", flat=True))


def test_the_server_gets_the_bytes_the_chunk_stored(server, django_capture_on_commit_callbacks):
    subscribers(3)
    with override_settings(TXMAIL={"SITE_URL": SITE, "KEEP_BODIES": True}):
        with django_capture_on_commit_callbacks(execute=True):
            Bulletin.send_bulk(Subscriber.objects.all(), title="June")
    stored = {d.recipients[0]: bytes(d.raw) for d in Delivery.objects.all()}
    assert {r.rcpt_tos[0]: r.data for r in server.received} == stored


def test_a_chunk_run_again_mails_nobody_twice(server, django_capture_on_commit_callbacks):
    subscribers(6)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        campaign = Bulletin.send_bulk(Subscriber.objects.all(), chunk_size=6, title="June")
    [chunk] = campaign.chunks.all()
    # The worker died after writing and sending the first batch (of BATCH_SIZE 4).
    first = list(Subscriber.objects.order_by("pk")[:4])
    token = "deadworker"
    Chunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.RUNNING, claim_token=token,
                                             claimed_at=timezone.now())
    chunks.write_batch(campaign, Bulletin, first, token, Chunk.objects.filter(pk=chunk.pk))
    chunks.queue.send_claimed(token)
    assert len(server.received) == 4
    # The sweep gives the chunk back to the queue (here the ImmediateBackend
    # runs it at once), and its next run sends only the two left.
    assert chunks.sweep(older_than=-1) == {"chunks requeued": 1, "chunks handed off": 1}
    assert len(server.received) == 6
    assert chunks.run_chunk(chunk.pk) == {"skipped": 1}  # a duplicate task
    assert sorted(len(m) for m in by_address(server).values()) == [1] * 6
    assert Recipient.objects.filter(campaign=campaign).count() == 6
    assert callbacks  # the hand-off that was never run changes nothing
    assert campaign.progress().sent == 6


def test_cancel_stops_the_remaining_chunks(server, django_capture_on_commit_callbacks):
    subscribers(9)
    with django_capture_on_commit_callbacks(execute=False):
        campaign = Bulletin.send_bulk(Subscriber.objects.all(), chunk_size=3, title="June")
    first, *rest = campaign.chunks.all()
    assert chunks.run_chunk(first.pk) == {"sent": 3}
    campaign.cancel()
    for chunk in rest:
        assert chunks.run_chunk(chunk.pk) == {"skipped": 1}
    assert len(server.received) == 3
    progress = campaign.progress()
    assert (progress.status, progress.sent, progress.pending, progress.in_progress) == (
        CampaignStatus.CANCELLED, 3, 0, 0)
    assert set(campaign.chunks.values_list("status", flat=True)) == {
        ChunkStatus.DONE, ChunkStatus.CANCELLED}


def test_cancel_stops_messages_stored_but_not_yet_sent(server,
                                                        django_capture_on_commit_callbacks):
    subscribers(3)
    with django_capture_on_commit_callbacks(execute=False):
        campaign = Bulletin.send_bulk(Subscriber.objects.all(), title="June")
    [chunk] = campaign.chunks.all()
    Chunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.RUNNING, claim_token="t")
    chunks.write_batch(campaign, Bulletin, list(Subscriber.objects.all()), "t",
                       Chunk.objects.filter(pk=chunk.pk))
    assert campaign.cancel() == 3
    assert chunks.queue.send_claimed("t") == {}
    assert server.received == []
    assert campaign.progress().cancelled == 3


# -- RFC 8058 ---------------------------------------------------------------------------


def unsubscribe_url(address, topic="bulletin"):
    return f"/mail/unsubscribe/{make_token(address, topic)}/"


def test_one_click_post_with_the_rfc_body_unsubscribes(client):
    # RFC 8058 section 3.1: the POST body is exactly "List-Unsubscribe=One-Click",
    # form-encoded, with no cookie and no CSRF token.
    client = type(client)(enforce_csrf_checks=True)
    response = client.post(unsubscribe_url("Ann@Example.com"), "List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    entry = Suppression.objects.get()
    assert (entry.address, entry.topic, entry.reason) == (
        "ann@example.com", "bulletin", Reason.UNSUBSCRIBED)
    # A second click (or the provider retrying) changes nothing.
    client.post(unsubscribe_url("ann@example.com"), "List-Unsubscribe=One-Click",
                content_type="application/x-www-form-urlencoded")
    assert Suppression.objects.count() == 1


def test_get_shows_a_confirmation_page_and_does_not_unsubscribe(client):
    response = client.get(unsubscribe_url("ann@example.com"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "ann@example.com" in content
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in content
    assert not Suppression.objects.exists()


def test_a_post_without_the_one_click_body_is_refused(client):
    response = client.post(unsubscribe_url("ann@example.com"))
    assert (response.status_code, response.content) == (
        400, b"Expected the body List-Unsubscribe=One-Click (RFC 8058).")
    assert not Suppression.objects.exists()


def test_a_tampered_token_is_refused_the_same_way_for_any_address(client):
    Subscriber.objects.create(name="Ann", email="ann@example.com")
    responses = []
    for address in ("ann@example.com", "nobody@example.com"):
        token = make_token(address, "bulletin")
        forged = signing.Signer(salt="another").sign_object([address, ""], compress=True)
        for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged):
            url = f"/mail/unsubscribe/{bad}/"
            for response in (client.get(url), client.post(
                    url, "List-Unsubscribe=One-Click",
                    content_type="application/x-www-form-urlencoded")):
                responses.append((response.status_code, response.content))
    assert {status for status, _ in responses} == {400}
    assert len({content for _, content in responses}) == 1  # nothing tells them apart
    assert not Suppression.objects.exists()


def test_after_unsubscribing_the_next_campaign_skips_the_address(
        server, client, django_capture_on_commit_callbacks):
    ann, bob = subscribers(2)
    client.post(unsubscribe_url(ann.email), "List-Unsubscribe=One-Click",
                content_type="application/x-www-form-urlencoded")
    with django_capture_on_commit_callbacks(execute=True):
        campaign = Bulletin.send_bulk(Subscriber.objects.all(), title="July")
    assert list(by_address(server)) == [bob.email]
    progress = campaign.progress()
    assert (progress.sent, progress.suppressed) == (1, 1)
    row = Delivery.objects.get(campaign_recipient__key=str(ann.pk))
    assert row.status == Status.SUPPRESSED
    # Another topic, and transactional mail, still reach Ann.
    Hello(to=[ann.email]).send()
    assert by_address(server)[ann.email][0]["Subject"] == "Hello Ann"


def test_a_running_campaign_honours_an_unsubscribe(server, django_capture_on_commit_callbacks):
    ann, bob = subscribers(2)
    with django_capture_on_commit_callbacks(execute=False):
        campaign = Bulletin.send_bulk(Subscriber.objects.all(), title="July")
    Suppression.objects.create(address=ann.email, topic="bulletin",
                               reason=Reason.UNSUBSCRIBED)
    [chunk] = campaign.chunks.all()
    assert chunks.run_chunk(chunk.pk) == {"sent": 1, "suppressed": 1}
    assert list(by_address(server)) == [bob.email]


def test_the_command_follows_and_cancels_a_campaign(server, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import call_command

    subscribers(3)
    with django_capture_on_commit_callbacks(execute=True):
        campaign = Bulletin.send_bulk(Subscriber.objects.all(), title="June")
    out, err = StringIO(), StringIO()
    call_command("txmail", "campaign", "follow", str(campaign.pk), stdout=out, stderr=err)
    assert out.getvalue().startswith(
        f"Campaign {campaign.pk} done: 3 sent, 0 failed, 0 suppressed, 0 in progress, "
        "0 pending of 3;")
    assert "3/3" in err.getvalue()  # tqdm's bar
    out = StringIO()
    call_command("txmail", "campaign", "cancel", str(campaign.pk), stdout=out)
    assert out.getvalue() == "Cancelled: 0 messages not sent.\n"


def test_a_recipient_repeated_by_a_join_gets_one_message(
        server, django_capture_on_commit_callbacks):
    ann, _bob, cy = subscribers(3)
    Interest.objects.bulk_create([Interest(subscriber=ann, name="a"),
                                  Interest(subscriber=ann, name="b"),
                                  Interest(subscriber=ann, name="c"),
                                  Interest(subscriber=cy, name="a")])
    queryset = Subscriber.objects.filter(interests__name__in=["a", "b", "c"])
    assert queryset.count() == 4  # ann three times
    with django_capture_on_commit_callbacks(execute=True):
        campaign = Bulletin.send_bulk(queryset, chunk_size=2, title="June")
    assert campaign.total == 2
    assert sorted(r.rcpt_tos[0] for r in server.received) == [ann.email, cy.email]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
    assert set(campaign.chunks.values_list("status", flat=True)) == {ChunkStatus.DONE}


def test_a_per_recipient_topic_goes_in_each_row_and_its_unsubscribe_link(
        server, django_capture_on_commit_callbacks):
    Subscriber.objects.create(name="Ann", email="ann@example.com", language="en")
    Subscriber.objects.create(name="Bea", email="bea@example.com", language="fr")
    with django_capture_on_commit_callbacks(execute=True):
        BulletinByLanguage.send_bulk(Subscriber.objects.all(), title="June")
    for received in server.received:
        [(_url, token)] = LINK.findall(received.message["List-Unsubscribe"])
        address, topic = read_token(token)
        row = Delivery.objects.get(recipients_text=address)
        language = Subscriber.objects.get(email=address).language
        assert row.topic == topic == f"bulletin-{language}"
    assert len(server.received) == 2


def test_a_token_for_the_empty_topic_is_refused(client):
    response = client.post(unsubscribe_url("ann@example.com", topic=""),
                           "List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert not Suppression.objects.exists()


def test_unsubscribing_needs_no_login_under_login_required_middleware(client, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE,
                           "django.contrib.auth.middleware.LoginRequiredMiddleware"]
    assert client.get(unsubscribe_url("ann@example.com")).status_code == 200
    response = client.post(unsubscribe_url("ann@example.com"), "List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert Suppression.objects.get().address == "ann@example.com"


@pytest.mark.parametrize(("site", "one_click"), [
    ("https://shop.example.com", True), ("http://shop.example.com", False),
    ("http://localhost:8000", True), ("http://127.0.0.1:8000", True),
    ("http://127.0.0.2:8000", True), ("http://[::1]:8000", True),
    ("http://localhost.example.com", False),
])
def test_one_click_is_offered_only_over_https_or_on_a_development_host(site, one_click):
    with override_settings(TXMAIL={"SITE_URL": site}):
        headers = Bulletin(Subscriber(name="Ann", email="ann@example.com"),
                           context={"title": "June"}).message().extra_headers
    assert headers["List-Unsubscribe"].startswith(f"<{site}/mail/unsubscribe/")
    assert ("List-Unsubscribe-Post" in headers) is one_click


def test_a_finished_campaign_has_nothing_pending_when_recipients_left_the_queryset(
        server, django_capture_on_commit_callbacks):
    bob = subscribers(3)[1]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        campaign = Bulletin.send_bulk(Subscriber.objects.filter(opted_in=True), title="June")
    Subscriber.objects.filter(pk=bob.pk).update(opted_in=False)  # before the chunk runs
    for callback in callbacks:
        callback()
    progress = campaign.progress()
    assert (progress.status, progress.total, progress.sent) == (CampaignStatus.DONE, 3, 2)
    assert (progress.pending, progress.eta, progress.done) == (0, None, True)


def test_only_users_who_may_change_campaigns_get_the_cancel_action():
    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    editor = User.objects.create_user("editor", is_staff=True)
    editor.user_permissions.add(Permission.objects.get(codename="change_campaign"))
    campaign_admin = admin_site._registry[Campaign]
    for user, allowed in ((viewer, False), (editor, True)):
        request = RequestFactory().get("/admin/txmail/campaign/")
        request.user = User.objects.get(pk=user.pk)  # fresh permission cache
        assert ("cancel_campaigns" in campaign_admin.get_actions(request)) is allowed


@pytest.fixture
def greylisting_ann():
    server = SMTPServer().start()

    async def handle_rcpt(srv, session, envelope, address, rcpt_options):
        if address == "ann@example.com" and server.greylist:
            return "450 4.2.0 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    server.greylist = True
    server.handler.handle_RCPT = handle_rcpt
    with override_settings(MAILERS={a: server.mailer() for a in ("default", "transactional")},
                           TXMAIL={"SITE_URL": SITE}):
        yield server
    server.stop()


def start_archived_campaign(capture):
    Subscriber.objects.create(name="Ann", email="ann@example.com")
    with capture(execute=True):
        campaign = BulletinWithArchive.send_bulk(Subscriber.objects.all(), title="June")
    row = Delivery.objects.get(campaign_recipient__campaign=campaign)
    follow_up = Delivery.objects.get(resent_from=row)
    assert (row.status, follow_up.status, follow_up.recipients) == (
        Status.SENT, Status.RETRYING, ["ann@example.com"])
    return campaign, follow_up


def test_a_campaign_waits_for_recipients_refused_for_now(
        greylisting_ann, django_capture_on_commit_callbacks):
    campaign, follow_up = start_archived_campaign(django_capture_on_commit_callbacks)
    progress = campaign.progress()
    assert (progress.in_progress, progress.done) == (1, False)  # Ann hasn't got it yet
    greylisting_ann.greylist = False
    Delivery.objects.filter(pk=follow_up.pk).update(next_attempt_at=timezone.now())
    assert queue.run(follow_up.pk) == {"sent": 1}
    assert [r.rcpt_tos for r in greylisting_ann.received] == [
        ["archive@example.com"], ["ann@example.com"]]
    assert campaign.progress().done


def test_cancelling_a_campaign_cancels_its_retries_for_refused_recipients(
        greylisting_ann, django_capture_on_commit_callbacks):
    campaign, follow_up = start_archived_campaign(django_capture_on_commit_callbacks)
    campaign.cancel()
    follow_up.refresh_from_db()
    assert follow_up.status == Status.CANCELLED  # else it goes out after the cancel


def test_a_list_unsubscribe_header_the_class_gives_wins_in_any_case():
    ann = Subscriber(name="Ann", email="ann@example.com")
    given = "<mailto:unsub@example.com>"
    with override_settings(TXMAIL={"SITE_URL": SITE}):
        for name in ("list-unsubscribe", "List-Unsubscribe"):
            built = Bulletin(ann, context={"title": "June"}, headers={name: given}).message()
            assert [(k, v) for k, v in built.extra_headers.items()
                    if k.lower().startswith("list-unsubscribe")] == [(name, given)]
            # No One-Click POST for a header that names no https URL (RFC 8058 3.1).


def test_bulk_and_transactional_messages_both_get_max_attempts_tries():
    server = FaultySMTPServer(rates={"data_451": 1.0}).start()  # 451 to every message
    mailers = {a: server.mailer() for a in ("default", "transactional")}
    try:
        with override_settings(MAILERS=mailers, TXMAIL={
                "SITE_URL": SITE, "MAX_ATTEMPTS": 3, "TASK_BACKEND": "db"}):
            subscribers(1)
            campaign = Bulletin.send_bulk(Subscriber.objects.all(), title="July")
            transactional = Hello().enqueue().delivery
            chunks.run_chunk(campaign.chunks.get().pk)  # the bulk message's first try
            bulk = Delivery.objects.get(campaign_recipient__campaign=campaign)
            for _round in range(5):  # each retry when due, until both are final
                Delivery.objects.filter(status=Status.RETRYING).update(
                    next_attempt_at=timezone.now())
                queue.run(transactional.pk)  # drains the bulk row too
    finally:
        server.stop()
    tries = Counter(i.message_id for i in server.plan.injected if i.fault == "data_451")
    bulk.refresh_from_db()
    transactional.refresh_from_db()
    assert (tries[bulk.message_id], tries[transactional.message_id]) == (3, 3)
    for row in (bulk, transactional):
        assert (row.status, row.attempts) == (Status.FAILED, 3)
        assert row.last_error.startswith("gave up after 3 attempts")
