"""VERP: every SMTP send goes out from its delivery's own signed return path."""

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.smtp import ScriptedServer
from tests.testapp.emails import Hello
from txmail.delivery import queue
from txmail.delivery.models import Delivery
from txmail.mail import verp

pytestmark = pytest.mark.smtp

BOUNCES = {"BOUNCES": {"RETURN_PATH": "bounces+{token}@bounces.example.com"}}


def test_a_queued_send_and_its_retry_go_out_from_the_rows_return_path():
    server = ScriptedServer(["451 4.3.0 Try again later"]).start()
    try:
        with override_settings(MAILERS={"transactional": server.mailer()},
                               TXMAIL={**BOUNCES, "TASK_BACKEND": "db", "RETRY_DELAY": 0}):
            row = Hello().enqueue().delivery
            queue.run(row.pk)  # refused for now: retried
            Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
            queue.run(row.pk)
            expected = verp.return_path(row.pk)
        [received] = server.received  # the first DATA was refused before it was kept
        assert received.mail_from == expected
        assert expected.startswith("bounces+") and expected.endswith("@bounces.example.com")
        with override_settings(TXMAIL=BOUNCES):
            assert verp.delivery_id(received.mail_from) == row.pk
            assert verp.delivery_id(received.mail_from.upper()) == row.pk
        # The header's From is the class's, whatever the envelope says.
        assert received.message["From"] == "Example Shop <shop@example.com>"
        assert Delivery.objects.get(pk=row.pk).attempts == 2
    finally:
        server.stop()


def test_send_now_goes_out_from_the_rows_return_path(smtp_server):
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}, TXMAIL=BOUNCES):
        sent = Hello().send()
        assert smtp_server.received[0].mail_from == verp.return_path(sent.delivery_id)


def test_without_the_setting_the_envelope_sender_is_the_from_address(smtp_server):
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}):
        Hello().send()
    assert smtp_server.received[0].mail_from == "shop@example.com"


@override_settings(TXMAIL=BOUNCES)
def test_a_token_is_unforgeable_and_names_one_delivery():
    path = verp.return_path(42)
    assert verp.delivery_id(path) == 42
    assert verp.matches(path)
    prefix, _, rest = path.partition("-")
    other = verp.return_path(43)
    # Another id with this MAC, a changed MAC, another domain: none names a delivery.
    assert verp.delivery_id(prefix[:-2] + "15-" + rest) is None
    assert verp.delivery_id(path.replace(rest[0], "a" if rest[0] != "a" else "b", 1)) is None
    assert verp.delivery_id(path.replace("bounces.example.com", "evil.example")) is None
    assert verp.matches(other) and other != path
    with override_settings(SECRET_KEY="another-key",
                           SECRET_KEY_FALLBACKS=["txmail-tests-not-secret"]):
        assert verp.delivery_id(path) == 42  # a rotated key still reads old bounces
    with override_settings(SECRET_KEY="another-key"):
        assert verp.delivery_id(path) is None


def test_template_problems_say_the_fix():
    assert verp.template_problem("bounces+{token}@bounces.example.com") is None
    assert "once" in verp.template_problem("bounces@bounces.example.com")
    assert "no domain" in verp.template_problem("bounces+{token}")
    assert "valid domain" in verp.template_problem("bounces+{token}@localhost")
