"""Rate limits per mailer alias in one process (TXMAIL["RATE_LIMITS"], issue #20).

Real parts: aiosmtpd on loopback (its arrival times are the truth), a local
HTTP server speaking SendGrid's v3 API for 429 and Retry-After, the queue run
in-process. Worker processes sharing one limit are in test_ratelimit_workers.py
(db_worker) and test_celery_ratelimit.py (Celery on Redis).
"""

import json
import re
import smtplib
import threading
import time
from collections import Counter
from datetime import timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from botocore.exceptions import ClientError
from django.core import checks
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from tests.smtp import ScriptedServer
from tests.testapp.emails import Hello
from txmail import RateLimited
from txmail.backends.classify import retry_after, slow_down
from txmail.backends.models import MailerRate
from txmail.delivery import queue
from txmail.delivery.models import Delivery, Status
from txmail.kinds import parse_rate
from txmail.testing import MailRecorder

pytestmark = pytest.mark.smtp


@pytest.fixture
def server():
    server = ScriptedServer().start()
    with override_settings(MAILERS={a: server.mailer() for a in ("default", "transactional")}):
        yield server
    server.stop()


def limits(**txmail):
    return override_settings(TXMAIL=txmail)


def queued(count, capture):
    with capture(execute=False):
        return [Hello(name=f"n{i}", to=[f"u{i}@example.com"]).enqueue().delivery
                for i in range(count)]


def test_rates_are_read_per_second_minute_hour_day_and_multiple():
    assert parse_rate("14/s") == 14
    assert parse_rate("300/h") == 300 / 3600
    assert parse_rate("10/m") == 10 / 60
    assert parse_rate("1000/d") == 1000 / 86400
    assert parse_rate("5/10s") == 0.5
    assert [parse_rate(bad) for bad in ("14", "0/s", "14/week", 14, "-1/s")] == [None] * 5


def test_send_waits_for_each_slot_of_a_short_limit(server):
    with limits(RATE_LIMITS={"transactional": "10/s"}):
        for i in range(6):
            Hello(name=f"n{i}").send()
    times = [r.at for r in server.received]
    # 10/s: a slot every 0.1 s (each send lands a little after its slot).
    assert len(times) == 6 and 0.47 < times[-1] - times[0] < 0.8, times


def test_a_burst_goes_at_once_then_the_rate_holds(server):
    with limits(RATE_LIMITS={"transactional": {"rate": "5/s", "burst": 3}}):
        started = time.time()
        for i in range(5):
            Hello(name=f"n{i}").send()
    times = [r.at - started for r in server.received]
    # Spacing between arrivals, not times from the start (the first send's set-up
    # varies with the machine's load): without the burst the third would come 0.4 s
    # after the first; with it, at once. Then one per 0.2 s.
    assert times[2] - times[0] < 0.3, times
    # The fourth and fifth wait for their slots, 0.2 s and 0.4 s after the first was
    # taken (after ``started``): lower bounds, which a loaded machine can't break.
    assert times[3] > 0.19 and times[4] > 0.39, times


def test_send_beyond_the_wait_raises_rate_limited_and_sends_nothing(server):
    with limits(RATE_LIMITS={"transactional": "1/m"}, RATE_LIMIT_WAIT=0.5):
        Hello(name="first").send()
        with pytest.raises(RateLimited) as caught:
            Hello(name="second").send()
    assert len(server.received) == 1
    assert caught.value.alias == "transactional" and not caught.value.attempted
    assert 55 < (caught.value.until - timezone.now()).total_seconds() <= 60
    assert str(caught.value).startswith(
        "mailer 'transactional' is at its rate limit (1/m: TXMAIL['RATE_LIMITS']"
        "['transactional']); nothing was sent. A queued message waits for its turn (")
    assert str(caught.value).endswith("UTC); from send(), enqueue() it instead.")


def test_queued_rows_over_the_limit_wait_throttled_one_slot_apart(
        server, django_capture_on_commit_callbacks):
    rows = queued(3, django_capture_on_commit_callbacks)
    with limits(RATE_LIMITS={"transactional": "1/m"}, RATE_LIMIT_WAIT=0):
        assert queue.run(rows[0].pk) == {"sent": 1, "throttled": 2}
    assert len(server.received) == 1
    now = timezone.now()
    waiting = Delivery.objects.filter(status=Status.THROTTLED).order_by("next_attempt_at")
    assert [row.attempts for row in waiting] == [0, 0]  # not an attempt: nothing was tried
    ahead = [(row.next_attempt_at - now).total_seconds() for row in waiting]
    assert 55 < ahead[0] <= 60 and 115 < ahead[1] <= 120, ahead  # not both at once
    assert waiting[0].last_error.startswith(
        "Held back by its rate limit: mailer 'transactional' is at its rate limit (1/m")
    # Due again, it goes (here, with the limit lifted).
    Delivery.objects.filter(status=Status.THROTTLED).update(next_attempt_at=now)
    assert queue.run(rows[1].pk) == {"sent": 2}
    assert len(server.received) == 3


def test_without_a_limit_no_rate_row_is_written(server):
    Hello().send()
    assert not MailerRate.objects.exists()


def test_a_421_backs_the_alias_off_for_every_sender(server, django_capture_on_commit_callbacks):
    server.replies = ["421 4.7.0 Too many messages, slow down"]
    rows = queued(2, django_capture_on_commit_callbacks)
    with limits(RATE_LIMITS={"transactional": {"rate": "100/s", "slow_down": 30}},
                RATE_LIMIT_WAIT=0):
        # The first row meets the 421; the second, in the same batch, is held back.
        assert queue.run(rows[0].pk) == {"throttled": 2}
        with pytest.raises(RateLimited) as caught:
            Hello(name="from send()").send()
    assert server.received == []
    rate = MailerRate.objects.get()
    assert 25 < (rate.blocked_until - timezone.now()).total_seconds() <= 30
    assert "421 4.7.0 Too many messages" in rate.blocked_reason
    first, second = Delivery.objects.filter(pk__in=[r.pk for r in rows]).order_by("pk")
    assert (first.status, first.attempts) == (Status.THROTTLED, 1)  # the server was asked
    assert "Every sender holds mailer 'transactional' back until" in first.last_error
    assert (second.status, second.attempts) == (Status.THROTTLED, 0)
    assert first.next_attempt_at >= rate.blocked_until - timedelta(seconds=1)
    assert "held back until" in str(caught.value) and "slow-down reply" in str(caught.value)


def test_a_421_without_a_limit_entry_is_a_transient_failure_as_before(
        server, django_capture_on_commit_callbacks):
    server.replies = ["421 4.7.0 Busy"]
    rows = queued(1, django_capture_on_commit_callbacks)
    assert queue.run(rows[0].pk) == {"retrying": 1}
    assert not MailerRate.objects.exists()


def test_a_451_for_one_recipient_is_not_a_slow_down(server):
    async def refuse_one(server_, session, envelope, address, rcpt_options):
        if address == "grey@example.com":
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    server.handler.handle_RCPT = refuse_one
    with limits(RATE_LIMITS={"transactional": "100/s"}):
        sent = Hello(to=["ann@example.com", "grey@example.com"]).send()
    assert sent.refused and MailerRate.objects.get().blocked_until is None


@pytest.fixture
def two_servers():
    first, second = ScriptedServer().start(), ScriptedServer().start()
    failover = {"BACKEND": "txmail.backends.failover.EmailBackend",
                "OPTIONS": {"mailers": ["primary", "secondary"], "cooldown": 0}}
    with override_settings(MAILERS={"primary": first.mailer(), "secondary": second.mailer(),
                                    "transactional": failover, "default": first.mailer()}):
        yield first, second
    first.stop()
    second.stop()


def test_failover_passes_a_primary_at_its_limit_to_the_secondary(
        two_servers, django_capture_on_commit_callbacks):
    first, second = two_servers
    rows = queued(4, django_capture_on_commit_callbacks)
    with limits(RATE_LIMITS={"primary": "1/m"}):
        assert queue.run(rows[0].pk) == {"sent": 4}
    assert (len(first.received), len(second.received)) == (1, 3)
    sent_via = Counter(Delivery.objects.values_list("sent_via", flat=True))
    assert sent_via == {"primary": 1, "secondary": 3}


def test_failover_with_every_alias_at_its_limit_waits_or_says_when(two_servers):
    first, second = two_servers
    with limits(RATE_LIMITS={"primary": "1/m", "secondary": "1/m"}, RATE_LIMIT_WAIT=0.2):
        Hello(name="a").send()
        Hello(name="b").send()
        with pytest.raises(RateLimited) as caught:
            Hello(name="c").send()
    assert (len(first.received), len(second.received)) == (1, 1)
    message = str(caught.value)
    assert message.startswith("mailer 'transactional': every mailer it tries is held back: "
                              "mailer 'primary' is at its rate limit (1/m")
    assert "mailer 'secondary' is at its rate limit (1/m" in message
    assert caught.value.alias == "transactional"


def test_failover_waits_for_the_first_free_slot_when_it_is_soon(two_servers):
    first, second = two_servers
    with limits(RATE_LIMITS={"primary": "4/s", "secondary": "4/s"}, RATE_LIMIT_WAIT=1):
        for i in range(6):
            Hello(name=f"n{i}").send()
    assert len(first.received) + len(second.received) == 6
    times = sorted(r.at for r in first.received + second.received)
    assert times[-1] - times[0] > 0.4  # 8/s between them: six take at least 0.5 s


class TooManyRequests(BaseHTTPRequestHandler):
    """SendGrid's v3 mail/send answering 429 with Retry-After, then 202."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts += 1
        if self.server.posts == 1:
            self.send_response(429)
            self.send_header("Retry-After", "7")
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"errors": [{"message": "too many"}]}).encode())
            return
        self.send_response(202)
        self.send_header("X-Message-Id", "sg-1")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sendgrid_429():
    http = ThreadingHTTPServer(("127.0.0.1", 0), TooManyRequests)
    http.posts = 0
    threading.Thread(target=http.serve_forever, daemon=True).start()
    mailer = {"BACKEND": "txmail.backends.sendgrid.EmailBackend",
              "OPTIONS": {"api_key": "SG.test-key",
                          "api_url": f"http://127.0.0.1:{http.server_address[1]}/v3/"}}
    with override_settings(MAILERS={"transactional": mailer, "default": mailer}):
        yield http
    http.shutdown()
    http.server_close()


def test_a_429_retry_after_holds_the_provider_back_that_long(
        sendgrid_429, django_capture_on_commit_callbacks):
    rows = queued(1, django_capture_on_commit_callbacks)
    with limits(RATE_LIMITS={"transactional": "10/s"}):
        assert queue.run(rows[0].pk) == {"throttled": 1}
    row = Delivery.objects.get(pk=rows[0].pk)
    rate = MailerRate.objects.get()
    assert 5 < (rate.blocked_until - timezone.now()).total_seconds() <= 7
    assert (row.status, row.attempts) == (Status.THROTTLED, 1)
    assert row.next_attempt_at == rate.blocked_until
    assert sendgrid_429.posts == 1
    # Once it's over, the row goes.
    MailerRate.objects.update(blocked_until=timezone.now())
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    with limits(RATE_LIMITS={"transactional": "10/s"}):
        assert queue.run(row.pk) == {"sent": 1}
    assert sendgrid_429.posts == 2


@pytest.mark.django_db(transaction=True)
def test_the_recorder_shows_a_throttled_message(server):
    # Outside a transaction the immediate task backend sends within enqueue().
    with limits(RATE_LIMITS={"transactional": "1/m"}, RATE_LIMIT_WAIT=0):
        with MailRecorder() as recorder:
            Hello(name="first").enqueue()
            Hello(name="second").enqueue()
    assert [r.status for r in recorder] == ["sent", "throttled"]
    [held] = recorder.throttled
    assert "is at its rate limit (1/m" in held.reason


def test_status_shows_throttled_rows_and_each_limit(server, django_capture_on_commit_callbacks):
    rows = queued(2, django_capture_on_commit_callbacks)
    with limits(RATE_LIMITS={"transactional": "1/m", "default": {"rate": "5/s", "burst": 5}},
                RATE_LIMIT_WAIT=0):
        queue.run(rows[0].pk)
        MailerRate.objects.filter(pk="transactional").update(
            blocked_until=timezone.now() + timedelta(minutes=5),
            blocked_reason="SMTP 421 slow down")
        out = StringIO()
        call_command("txmail", "status", stdout=out)
    lines = out.getvalue().splitlines()
    assert "throttled         1" in lines
    [limited] = [line for line in lines if line.startswith("rate limit 'transactional'")]
    assert re.match(r"rate limit 'transactional': 1/m; next slot in (59|60)\.\d s;", limited)
    assert "; held back until " in limited and limited.endswith(
        "after a slow-down reply: SMTP 421 slow down")
    assert "rate limit 'default': 5/s (burst 5); free now" in lines


@pytest.mark.parametrize(("value", "expected"), [
    ({"transactionl": "14/s"},
     "TXMAIL['RATE_LIMITS'] limits mailer 'transactionl', which settings.MAILERS does not "
     "define (it has 'default', 'transactional', 'marketing'), so it limits nothing. Did you "
     "mean 'transactional'? Use the alias the messages are sent through, or add it to "
     "MAILERS."),
])
def test_a_limit_on_an_unknown_alias_is_an_error(value, expected):
    with limits(RATE_LIMITS=value):
        errors = [e for e in checks.run_checks() if e.id == "txmail.E070"]
    assert [e.msg for e in errors] == [expected]


def test_a_rate_that_does_not_read_is_an_error_naming_the_alias():
    with limits(RATE_LIMITS={"transactional": "14 per second"}):
        errors = [e for e in checks.run_checks() if e.id == "txmail.E003"]
    [error] = errors
    assert "['transactional'] has the rate '14 per second': write a count above 0 per s, m, " \
        "h or d, such as '14/s', '300/h' or '5/10s'" in error.msg


@pytest.mark.urls("tests.urls")
def test_the_admin_filters_throttled_rows(server, admin_client,
                                          django_capture_on_commit_callbacks):
    rows = queued(2, django_capture_on_commit_callbacks)
    with limits(RATE_LIMITS={"transactional": "1/m"}, RATE_LIMIT_WAIT=0):
        queue.run(rows[0].pk)
    page = admin_client.get("/admin/txmail/delivery/").content.decode()
    assert "?status__exact=throttled" in page  # offered in the status filter
    listed = admin_client.get("/admin/txmail/delivery/?status__exact=throttled")
    assert listed.context["cl"].result_count == 1
    [shown] = listed.context["cl"].result_list
    assert shown.status == Status.THROTTLED


def test_a_rate_store_it_cannot_read_holds_the_row_back_not_unknown(
        server, django_capture_on_commit_callbacks):
    rows = queued(1, django_capture_on_commit_callbacks)
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute("DROP TABLE txmail_mailerrate")
    with limits(RATE_LIMITS={"transactional": "10/s"}):
        assert queue.run(rows[0].pk) == {"throttled": 1}
    row = Delivery.objects.get()
    assert (row.status, row.attempts, row.claim_token) == (Status.THROTTLED, 0, "")
    assert "its rate limit could not be read from the database (OperationalError: " \
        "no such table: txmail_mailerrate); nothing was sent." in row.last_error
    assert server.received == []


@pytest.mark.urls("tests.urls")
def test_the_admin_shows_each_mailer_rate_and_lifts_a_hold(server, admin_client):
    MailerRate.objects.create(alias="transactional", next_slot=timezone.now(),
                              blocked_until=timezone.now() + timedelta(minutes=5),
                              blocked_reason="SMTP 421 4.7.0 slow down")
    with limits(RATE_LIMITS={"transactional": "14/s"}):
        page = admin_client.get("/admin/txmail/mailerrate/").content.decode()
        assert "14/s" in page and "SMTP 421 4.7.0 slow down" in page
        admin_client.post("/admin/txmail/mailerrate/", {
            "action": "lift_hold", "_selected_action": ["transactional"]})
        Hello().send()  # at once: nothing holds it back now
    assert MailerRate.objects.get().blocked_until is None
    assert len(server.received) == 1


def test_slow_down_replies_are_recognised_and_retry_after_read():
    assert slow_down(smtplib.SMTPDataError(451, b"4.7.1 Slow down")) == (True, None)
    assert slow_down(smtplib.SMTPConnectError(421, b"Too many connections")) == (True, None)
    assert slow_down(smtplib.SMTPDataError(452, b"Mailbox full")) == (False, None)
    assert slow_down(smtplib.SMTPRecipientsRefused({"a@x": (451, b"greylisted")})) == (
        False, None)
    assert slow_down(ClientError({"Error": {"Code": "Throttling"}}, "SendEmail")) == (
        True, None)
    assert retry_after("120") == 120
    later = format_datetime(timezone.now() + timedelta(seconds=90), usegmt=True)
    assert 85 < retry_after(later) <= 90
    assert retry_after("soon") is None and retry_after(None) is None
