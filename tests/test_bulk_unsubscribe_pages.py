"""The unsubscribe pages: their states, resubscribing, and what a resubscribe never lifts."""

import pytest

from txmail.bulk.tokens import make_token
from txmail.suppression.check import suppress
from txmail.suppression.models import Reason, Suppression

pytestmark = pytest.mark.django_db
FORM = "application/x-www-form-urlencoded"


def url(address="ann@example.com", topic="bulletin"):
    return f"/mail/unsubscribe/{make_token(address, topic)}/"


@pytest.fixture
def client(client):
    # As a mail provider or a person without a session: no CSRF token.
    return type(client)(enforce_csrf_checks=True)


def entries():
    return sorted(Suppression.objects.values_list("address", "topic", "reason"))


def test_the_page_asks_until_the_address_is_unsubscribed(client):
    page = client.get(url()).content.decode()
    assert "Stop sending <strong>bulletin</strong> emails" in page
    client.post(url(), "List-Unsubscribe=One-Click", content_type=FORM)
    page = client.get(url()).content.decode()
    assert "Stop sending" not in page
    assert "You are unsubscribed" in page
    assert '<input type="hidden" name="resubscribe" value="1">' in page
    assert "Unsubscribed from: <strong>bulletin</strong>." in page


def test_resubscribe_removes_the_unsubscribe_entry_of_that_topic_only(client):
    for topic in ("bulletin", "offers"):
        client.post(url(topic=topic), "List-Unsubscribe=One-Click", content_type=FORM)
    response = client.post(url(), "resubscribe=1", content_type=FORM)
    assert response.status_code == 200
    assert "You are subscribed again" in response.content.decode()
    assert entries() == [("ann@example.com", "offers", Reason.UNSUBSCRIBED)]
    # The page asks again, and the one-click POST works again.
    assert "Stop sending" in client.get(url()).content.decode()
    client.post(url(), "List-Unsubscribe=One-Click", content_type=FORM)
    assert len(entries()) == 2


def test_resubscribe_never_lifts_a_bounce_a_complaint_or_an_entry_by_hand(client):
    suppress("ann@example.com", Reason.BOUNCED, source="ses")
    suppress("ann@example.com", Reason.MANUAL, topic="bulletin", source="admin")
    before = entries()
    # Unsubscribing keeps the entry made by hand as it is…
    client.post(url(), "List-Unsubscribe=One-Click", content_type=FORM)
    assert entries() == before
    # …so a resubscribe finds nothing of its own to remove.
    page = client.post(url(), "resubscribe=1", content_type=FORM).content.decode()
    assert entries() == before
    assert ("These emails stay stopped for this address whatever you choose here "
            "(added by hand, hard bounce).") in page


def test_a_post_with_neither_body_is_refused(client):
    response = client.post(url(), "something=else", content_type=FORM)
    assert (response.status_code, response.content) == (
        400, b"Expected the body List-Unsubscribe=One-Click (RFC 8058).")


def test_a_bad_token_gets_the_invalid_page_for_a_resubscribe_too(client):
    response = client.post("/mail/unsubscribe/forged:token/", "resubscribe=1",
                           content_type=FORM)
    assert response.status_code == 400
    assert "This unsubscribe link is not valid" in response.content.decode()
