"""receive(): a report at a VERP return path → the delivery log and the suppression list.

What counts is recorded as a provider's webhook event is (txmail.webhooks); what doesn't
(forged, replayed, never sent, another recipient, an auto-reply) changes no row.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from anymail.signals import tracking
from django.test import override_settings
from django.utils import timezone

from txmail import bounces
from txmail.delivery.models import Delivery, Status
from txmail.mail import verp
from txmail.suppression.models import Reason, Suppression
from txmail.webhooks.models import DeliveryEvent

FIXTURES = Path(__file__).parent / "fixtures" / "bounces"
BOUNCES = {"BOUNCES": {"RETURN_PATH": "bounces+{token}@bounces.example.com"}}
pytestmark = pytest.mark.usefixtures("verp_on")


@pytest.fixture
def verp_on():
    with override_settings(TXMAIL=BOUNCES):
        yield


def fixture(name: str, **changes: bytes) -> bytes:
    raw = (FIXTURES / name).read_bytes()
    for old, new in changes.items():
        raw = raw.replace(old.encode(), new)
    return raw


def sent(recipients=("ann@example.com",), message_id="<177.hello@example.com>", **fields):
    now = timezone.now()
    values = {"mailer": "transactional", "from_email": "shop@example.com",
              "recipients": list(recipients), "message_id": message_id,
              "status": Status.SENT, "sent_at": now, "handed_over_at": now, **fields}
    return Delivery.objects.create(**values)


def return_path(row, address=None):
    """The return path ``row``'s copy to ``address`` (its first recipient) went out from."""
    return verp.return_path(row.pk, row.recipients, address or row.recipients[0])


def rows():
    """Every row a report may change, as comparable values."""
    return (sorted(DeliveryEvent.objects.values_list("delivery", "event_type", "recipient",
                                                     "event_id")),
            sorted(Suppression.objects.values_list("address", "topic", "reason")),
            sorted(Delivery.objects.values_list("pk", "status", "updated_at")))


@pytest.fixture
def signalled():
    events = []

    def listen(sender, event, esp_name, **kwargs):
        events.append((esp_name, event.event_type, event.recipient))

    tracking.connect(listen)
    yield events
    tracking.disconnect(listen)


@pytest.mark.parametrize("name", ["postfix-hard.eml", "exim-text.eml", "exchange-hard.eml",
                                  "gmail-hard.eml"])
def test_a_hard_bounce_logs_an_event_suppresses_and_signals(name, signalled):
    row = sent()
    said = bounces.receive(fixture(name), return_path(row))
    assert said.startswith("Hard bounce of ann@example.com (5.1.1") and "suppressed" in said
    event = row.events.get()
    assert (event.event_type, event.recipient, event.esp_name) == (
        "bounced", "ann@example.com", "txmail bounces")
    assert event.mta_response.startswith("smtp") or "550 5.1.1" in event.mta_response
    entry = Suppression.objects.get()
    assert (entry.address, entry.topic, entry.reason, entry.delivery_id, entry.source) == (
        "ann@example.com", "", Reason.BOUNCED, row.pk, "txmail bounces")
    assert signalled == [("txmail bounces", "bounced", "ann@example.com")]


def test_soft_bounces_are_counted_until_the_limit(signalled):
    with override_settings(TXMAIL={"BOUNCES": {**BOUNCES["BOUNCES"], "SOFT_BOUNCE_LIMIT": 2}}):
        first, second = sent(), sent()
        said = bounces.receive(fixture("postfix-soft.eml"), return_path(first))
        assert said == "Soft bounce of ann@example.com (4.2.2) on delivery " \
            f"{first.pk}: 1 of 2 soft bounces in 7 days."
        assert not Suppression.objects.exists()
        again = fixture("postfix-soft.eml", **{"8C1B2D3E4F@mx": b"9999@mx"})  # another report
        said = bounces.receive(again, return_path(second))
        assert said.endswith("2 soft bounces in 7 days (TXMAIL['BOUNCES']"
                             "['SOFT_BOUNCE_LIMIT'] 2): suppressed.")
    entry = Suppression.objects.get()
    assert (entry.address, entry.reason) == ("ann@example.com", Reason.BOUNCED)
    assert entry.description.startswith("2 soft bounces in 7 days; the last: 4.2.2")
    assert [e.event_type for e in DeliveryEvent.objects.all()] == ["bounced", "bounced"]
    assert len(signalled) == 2


def test_the_default_limit_is_three():
    for number in range(3):
        row = sent()
        raw = fixture("postfix-soft.eml", **{"8C1B2D3E4F@mx": f"{number}@mx".encode()})
        bounces.receive(raw, return_path(row))
        assert Suppression.objects.exists() == (number == 2)


def soft_bounce(number: int) -> str:
    """A soft bounce report of its own (``number``) on a delivery of its own."""
    row = sent()
    raw = fixture("postfix-soft.eml", **{"8C1B2D3E4F@mx": f"{number}@mx".encode()})
    return bounces.receive(raw, return_path(row))


def received_days_ago(days: int) -> None:
    """Date the soft bounces received so far ``days`` back."""
    DeliveryEvent.objects.update(received_at=timezone.now() - timedelta(days=days))


def test_soft_bounces_over_a_year_do_not_suppress():
    soft_bounce(1)
    received_days_ago(300)
    soft_bounce(2)
    received_days_ago(150)
    # The third in a year, the only one in the last 7 days (the default window).
    assert soft_bounce(3).endswith(": 1 of 3 soft bounces in 7 days.")
    assert not Suppression.objects.exists()
    assert DeliveryEvent.objects.count() == 3  # each is still logged


def test_soft_bounces_within_the_window_suppress():
    window = {"BOUNCES": {**BOUNCES["BOUNCES"], "SOFT_BOUNCE_WINDOW": 30 * 86400}}
    with override_settings(TXMAIL=window):
        soft_bounce(1)
        received_days_ago(20)
        soft_bounce(2)
        said = soft_bounce(3)
    assert said.endswith(": 3 soft bounces in 30 days (TXMAIL['BOUNCES']"
                         "['SOFT_BOUNCE_LIMIT'] 3): suppressed.")
    assert Suppression.objects.get().description.startswith(
        "3 soft bounces in 30 days; the last: 4.2.2")
    DeliveryEvent.objects.update(received_at=timezone.now() - timedelta(hours=2))
    with override_settings(TXMAIL={"BOUNCES": {**window["BOUNCES"],
                                               "SOFT_BOUNCE_WINDOW": 3600}}):
        assert soft_bounce(4).endswith(": 1 of 3 soft bounces in 1 hour.")


def test_a_delay_notice_is_logged_and_not_counted():
    row = sent()
    said = bounces.receive(fixture("postfix-delayed.eml"), return_path(row))
    assert said == f"Delay notice of ann@example.com (4.4.1) on delivery {row.pk}: logged."
    assert [e.event_type for e in row.events.all()] == ["deferred"]
    assert not Suppression.objects.exists()


@pytest.mark.parametrize("name", ["arf-abuse.eml", "arf-redacted.eml"])
def test_a_complaint_logs_an_event_and_suppresses(name, signalled):
    row = sent()
    said = bounces.receive(fixture(name), return_path(row))
    assert said == f"Complaint of ann@example.com on delivery {row.pk}: suppressed."
    assert [(e.event_type, e.recipient) for e in row.events.all()] == [
        ("complained", "ann@example.com")]
    assert Suppression.objects.get().reason == Reason.COMPLAINED
    assert signalled == [("txmail bounces", "complained", "ann@example.com")]


def test_a_redacted_complaint_counts_for_the_recipient_whose_return_path_it_reached():
    row = sent(recipients=["ann@example.com", "bob@example.com"])
    said = bounces.receive(fixture("arf-redacted.eml"), return_path(row, "bob@example.com"))
    assert said == f"Complaint of bob@example.com on delivery {row.pk}: suppressed."
    assert list(Suppression.objects.values_list("address", "reason")) == [
        ("bob@example.com", Reason.COMPLAINED)]


def test_a_report_about_a_co_recipient_at_ones_own_return_path_changes_nothing():
    """Whoever got a copy can't have another recipient suppressed: the DSN about ann,
    sent to bob's return path (from bob's own copy's Return-Path), is not applied."""
    row = sent(recipients=["ann@example.com", "bob@example.com", "cy@example.com"])
    bobs = return_path(row, "bob@example.com")
    before = rows()
    for name in ("postfix-hard.eml", "arf-abuse.eml", "rfc3464-envid.eml"):
        said = bounces.receive(fixture(name), bobs)
        assert said == (f"Not applied: {bobs!r} is the return path of delivery {row.pk} to "
                        "bob@example.com, not to ann@example.com; nothing changed.")
    assert rows() == before
    said = bounces.receive(fixture("postfix-hard.eml"), return_path(row, "ann@example.com"))
    assert said == f"Hard bounce of ann@example.com (5.1.1) on delivery {row.pk}: suppressed."
    assert list(Suppression.objects.values_list("address", flat=True)) == ["ann@example.com"]


def test_a_report_naming_several_counts_only_for_the_return_paths_recipient():
    row = sent(recipients=["ann@example.com", "bob@example.com"])
    both = fixture("postfix-hard.eml").replace(
        b"Final-Recipient: rfc822; ann@example.com",
        b"Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 5.1.1\n"
        b"\nFinal-Recipient: rfc822; ann@example.com")
    assert both != fixture("postfix-hard.eml")
    said = bounces.receive(both, return_path(row, "ann@example.com"))
    assert said == (f"Hard bounce of ann@example.com (5.1.1) on delivery {row.pk}: suppressed; "
                    "not applied to bob@example.com (the return path is ann@example.com's).")
    assert list(Suppression.objects.values_list("address", flat=True)) == ["ann@example.com"]


def test_a_bounce_from_where_the_recipient_forwarded_to_counts_for_the_recipient():
    # ann@example.com's server forwarded it; the next one refused the forward.
    row = sent()
    raw = fixture("postfix-hard.eml", **{
        "Final-Recipient: rfc822; ann@example.com": b"Final-Recipient: rfc822; ann@gmail.example"})
    assert b"ann@gmail.example" in raw
    said = bounces.receive(raw, return_path(row))
    assert said == f"Hard bounce of ann@example.com (5.1.1) on delivery {row.pk}: suppressed."
    assert list(Suppression.objects.values_list("address", flat=True)) == ["ann@example.com"]


@pytest.mark.parametrize("name", ["auto-reply-rfc3834.eml", "auto-reply-exchange-oof.eml",
                                  "auto-reply-gmail-vacation.eml", "auto-reply-precedence.eml",
                                  "auto-reply-null-sender.eml"])
def test_an_auto_reply_is_ignored(name):
    row = sent()
    before = rows()
    said = bounces.receive(fixture(name), return_path(row))
    assert said.startswith("Ignored: an auto-reply from ")
    assert rows() == before


def test_a_forged_return_path_changes_nothing():
    row = sent()
    before = rows()
    path = return_path(row)
    token = path.split("+", 1)[1].split("@")[0]
    forged = path.replace(token, token[:-1] + ("a" if token[-1] != "a" else "b"))
    with override_settings(SECRET_KEY="an attacker's guess"):
        guessed = return_path(row)
    for address in (forged, guessed):
        said = bounces.receive(fixture("postfix-hard.eml"), address)
        assert said == (f"Not applied: forged: the signature in {address!r} is not txmail's "
                        "(SECRET_KEY).")
    assert rows() == before


def test_a_replayed_report_changes_nothing_more(signalled):
    row = sent()
    path = return_path(row)
    bounces.receive(fixture("postfix-hard.eml"), path)
    Suppression.objects.all().delete()  # an admin lifted it: a replay must not add it back
    before = rows()
    relayed = b"Received: from elsewhere.example; Tue, 1 Dec 2026\r\n" + fixture(
        "postfix-hard.eml")
    said = bounces.receive(relayed, path)
    assert said == (f"Replayed: the hard bounce of ann@example.com (5.1.1) on delivery "
                    f"{row.pk} was applied before; nothing changed.")
    assert rows() == before
    assert len(signalled) == 1


def test_a_report_for_a_delivery_never_sent_changes_nothing():
    row = sent(status=Status.CANCELLED, sent_at=None, handed_over_at=None)
    gone = sent()
    gone_path = return_path(gone)
    gone.delete()
    before = rows()
    said = bounces.receive(fixture("postfix-hard.eml"), return_path(row))
    assert said == f"Not applied: delivery {row.pk} was never sent (it is cancelled)."
    said = bounces.receive(fixture("postfix-hard.eml"), gone_path)
    assert said.startswith("Not applied: delivery ") and "does not exist" in said
    assert rows() == before


def test_a_report_about_another_recipient_changes_nothing():
    row = sent(recipients=["bob@example.com"])
    suppressed = sent(recipients=["ann@example.com", "bob@example.com"],
                      suppressed={"ann@example.com": "bounced"})
    refused = sent(recipients=["ann@example.com", "bob@example.com"],
                   refused={"ann@example.com": [550, "5.1.1 User unknown"]})
    before = rows()
    said = bounces.receive(fixture("postfix-hard.eml"), return_path(row))
    assert said == (f"Not applied: {return_path(row)!r} is the return path of delivery "
                    f"{row.pk} to bob@example.com, not to ann@example.com; nothing changed.")
    for delivery in (suppressed, refused):
        said = bounces.receive(fixture("postfix-hard.eml"), return_path(delivery))
        assert said == f"Not applied: delivery {delivery.pk} was not sent to ann@example.com."
    assert rows() == before


def test_a_report_about_another_message_changes_nothing():
    row = sent(message_id="<other@example.com>")
    before = rows()
    said = bounces.receive(fixture("postfix-hard.eml"), return_path(row))
    assert said == ("Not applied: the returned message's Message-ID <177.hello@example.com> "
                    f"is not delivery {row.pk}'s (<other@example.com>).")
    assert rows() == before


def test_an_address_that_is_no_return_path():
    assert not bounces.is_return_path("ann@example.com")
    assert bounces.is_return_path(verp.return_path(7, ["ann@example.com"], "ann@example.com"))
    said = bounces.receive(fixture("postfix-hard.eml"), "ann@example.com")
    assert said.startswith("Not applied: 'ann@example.com' is not a return path")
    with override_settings(TXMAIL={}):
        assert not bounces.is_return_path(verp.return_path.__name__ + "@x.example")


def test_a_success_notice_is_not_applied_and_a_dsn_applies_to_whom_it_failed():
    row = sent(recipients=["ann@example.com", "bob@example.com"])
    said = bounces.receive(fixture("rfc3464-envid.eml"), return_path(row))
    assert said == f"Hard bounce of ann@example.com (5.2.1) on delivery {row.pk}: suppressed."
    assert list(Suppression.objects.values_list("address", flat=True)) == ["ann@example.com"]


def test_without_anymail_the_webhooks_receiver_records_it_all_the_same(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_anymail(name, *args, **kwargs):
        if name == "anymail" or name.startswith("anymail."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    row = sent()
    monkeypatch.setattr(builtins, "__import__", no_anymail)
    said = bounces.receive(fixture("arf-abuse.eml"), return_path(row))
    monkeypatch.undo()
    assert said == f"Complaint of ann@example.com on delivery {row.pk}: suppressed."
    assert [(e.event_type, e.esp_name) for e in row.events.all()] == [
        ("complained", "txmail bounces")]
    assert Suppression.objects.get().reason == Reason.COMPLAINED
