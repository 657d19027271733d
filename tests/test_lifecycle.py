"""Issue #20's data-lifecycle features together: erasure, retention, idempotency keys,
scheduling's stored data and rate limits' rows (each was built on its own branch).

Real parts: aiosmtpd on loopback (what it received), every txmail table searched
again by erasure's own search and by raw SQL (``tests.test_erasure``).
"""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

import txmail
from tests.test_erasure import ANN, ANN_IDNA, raw_sql_hits
from tests.testapp.emails import Hello
from txmail import DeliveryOptions
from txmail.backends.models import MailerRate
from txmail.backends.ratelimit import back_off
from txmail.delivery.idempotency import IdempotencyKey

pytestmark = pytest.mark.smtp


class Welcome(Hello):
    """Keyed by the address, as an app would key a welcome message."""

    delivery_options = DeliveryOptions(idempotency_key="welcome/{to[0]}")


class Checked(Hello):
    """Stores the address as its last check's data."""

    def get_send_check(self):
        return {"email": self.to[0]}

    @classmethod
    def still_wanted(cls, data):
        return True


@pytest.fixture
def server(smtp_server):
    with override_settings(MAILERS={"transactional": smtp_server.mailer()},
                           TXMAIL={"RATE_LIMITS": {"transactional": "100/s"}}):
        yield smtp_server


def test_erasure_reaches_keys_rate_hold_backs_and_check_data(server):
    Welcome(to=[ANN]).send()
    Welcome(to=["bob@example.com"]).send()
    Checked(to=[ANN_IDNA]).enqueue(delay=timedelta(days=1))
    back_off("transactional", 60, f"451 4.7.1 <{ANN_IDNA}>: greylisted, try later")
    assert {("txmail_idempotencykey", "key"), ("txmail_mailerrate", "blocked_reason"),
            ("txmail_delivery", "send_check")} <= raw_sql_hits()

    counts = txmail.erase(ANN)

    assert counts["left"] == []
    assert raw_sql_hits() == set()
    assert counts["idempotency keys"] == 1
    assert counts["mailer hold-backs cleared"] == 1
    # Bob's key holds on; the alias stays held back, only its reason goes.
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == [
        "welcome/bob@example.com"]
    rate = MailerRate.objects.get()
    assert rate.blocked_until > timezone.now()
    assert "erased" in rate.blocked_reason
