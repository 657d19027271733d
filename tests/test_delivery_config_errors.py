"""A mailer configuration error met while sending a queued row: the row waits for the fix.

Wrong settings (an alias MAILERS lacks, a BACKEND typo, missing OPTIONS, a
failover naming an unknown alias or forming a cycle) are nobody's message's
fault: the row stays ready without using up an attempt, says what to fix, and
no failover alias is marked down for it.
"""

import logging

import pytest
from django.core.cache import caches
from django.test import override_settings
from django.utils import timezone

from tests.smtp import SMTPServer
from tests.testapp.emails import Hello
from txmail.delivery import queue
from txmail.delivery.models import Delivery, Status

pytestmark = pytest.mark.smtp

FAILOVER = "txmail.backends.failover.EmailBackend"


def failover(*aliases):
    return {"BACKEND": FAILOVER, "OPTIONS": {"mailers": list(aliases), "cache": "shared"}}


BROKEN = {
    "an alias MAILERS lacks": ({}, "MailerDoesNotExist"),
    "a BACKEND typo": ({"transactional": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackendd"}},
        "Could not find BACKEND 'django.core.mail.backends.smtp.EmailBackendd'"),
    "SMTP without a host": ({"transactional": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": {}}},
        "OPTIONS must define 'host'."),
    "a failover naming an unknown alias": ({"transactional": failover("nope")},
                                           "MailerDoesNotExist"),
    "an entry written as {...} (a set)": ({"transactional": {...}},
                                          "settings.MAILERS['transactional'] must be a dict"),
    "a failover cycle": ({"transactional": failover("other"), "other": failover("transactional")},
                         "failover mailers form a cycle: 'transactional' -> 'other' -> "
                         "'transactional'"),
}


@pytest.fixture
def server():
    server = SMTPServer().start()
    caches["shared"].clear()
    yield server
    server.stop()
    caches["shared"].clear()


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_configuration_error_leaves_the_row_ready_with_its_attempts(
        case, server, caplog, django_capture_on_commit_callbacks):
    broken, reason = BROKEN[case]
    with django_capture_on_commit_callbacks(execute=False):
        row = Hello().enqueue().delivery
    before = timezone.now()
    with override_settings(MAILERS=broken), caplog.at_level(logging.ERROR, "txmail"):
        assert queue.run(row.pk) == {"retrying": 1}
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.RETRYING, 0)
    assert row.next_attempt_at > before  # after a backoff
    assert reason in row.last_error and "Fix settings.MAILERS" in row.last_error
    assert f"delivery {row.pk} waits for a configuration fix" in caplog.text
    assert caches["shared"].get("txmail.mailer-down.transactional") is None
    assert caches["shared"].get("txmail.mailer-down.other") is None
    assert server.received == []


def test_once_the_settings_are_fixed_the_row_is_sent_with_every_attempt_left(
        server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        row = Hello().enqueue().delivery
    with override_settings(MAILERS={}):
        queue.run(row.pk)
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    with override_settings(MAILERS={"transactional": server.mailer()}):
        assert queue.run(row.pk) == {"sent": 1}
    row.refresh_from_db()
    assert (row.status, row.attempts, row.max_attempts) == (Status.SENT, 1, 5)
    assert [r.rcpt_tos for r in server.received] == [["ann@example.com"]]


def test_a_failover_skips_a_misconfigured_alias_without_marking_it_down(
        server, caplog, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        row = Hello().enqueue().delivery
    mailers = {"transactional": failover("nope", "good"), "good": server.mailer()}
    with override_settings(MAILERS=mailers), caplog.at_level(logging.ERROR, "txmail"):
        assert queue.run(row.pk) == {"sent": 1}
    row.refresh_from_db()
    assert (row.status, row.sent_via) == (Status.SENT, "good")
    assert "mailer 'transactional' skipped 'nope'" in caplog.text
    assert caches["shared"].get("txmail.mailer-down.nope") is None
    assert len(server.received) == 1
