"""Failover and round-robin mailers over real SMTP servers (aiosmtpd on loopback).

The cooldown is shared through the "shared" cache (a FileBasedCache every
process of the run sees), and checked from two worker subprocesses.
"""

import errno
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from django.core.cache import caches
from django.core.mail import EmailMessage, InvalidMailer, mailers
from django.test import override_settings

from tests.smtp import SMTPServer, free_port
from tests.testapp.emails import Hello
from txmail import PermanentDeliveryError, TransientDeliveryError
from txmail.backends import deliver, deliver_many
from txmail.backends.classify import is_message_error, is_transient
from txmail.delivery.models import Delivery, Status
from txmail.exceptions import DeliveryOutcomeUnknown

pytestmark = pytest.mark.smtp
ROOT = Path(__file__).resolve().parent.parent


class Dropper:
    """A TCP server that accepts each connection and closes it at once; counts them."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def mailer(self) -> dict:
        return {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": self.port, "timeout": 5}}

    def stop(self) -> None:
        self.sock.close()


class ReplyingServer(SMTPServer):
    """aiosmtpd answering MAIL with ``mail_reply`` and RCPT for ``refuse`` with 550."""

    def __init__(self, mail_reply: str | None = None, refuse: tuple[str, ...] = ()):
        super().__init__()
        self.mail_attempts = 0
        self.mail_reply = mail_reply
        self.refuse = refuse

        async def handle_mail(server, session, envelope, address, options):
            self.mail_attempts += 1
            if self.mail_reply:
                return self.mail_reply
            envelope.mail_from = address
            return "250 OK"

        async def handle_rcpt(server, session, envelope, address, options):
            if address in self.refuse:
                return "550 5.1.1 No such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        self.handler.handle_MAIL = handle_mail
        self.handler.handle_RCPT = handle_rcpt


def closed_mailer() -> dict:
    return {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 5}}


def failover(*aliases: str, backend: str = "failover", cooldown: float = 60) -> dict:
    return {"BACKEND": f"txmail.backends.{backend}.EmailBackend",
            "OPTIONS": {"mailers": list(aliases), "cooldown": cooldown, "cache": "shared"}}


def email(n: int = 0, to: tuple[str, ...] = ("ann@example.com",)) -> EmailMessage:
    return EmailMessage(f"Message {n}", "Body", "shop@example.com", list(to))


@pytest.fixture(autouse=True)
def clear_cooldowns():
    caches["shared"].clear()
    yield
    caches["shared"].clear()


@pytest.fixture
def backup():
    server = ReplyingServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["down", "421", "dropping"])
def broken(request):
    """The first server: nothing listening, answering 421, or dropping connections."""
    if request.param == "down":
        yield request.param, closed_mailer(), None
    elif request.param == "421":
        server = ReplyingServer(mail_reply="421 4.3.2 Service not available").start()
        yield request.param, server.mailer(), server
        server.stop()
    else:
        dropper = Dropper()
        yield request.param, dropper.mailer(), dropper
        dropper.stop()


def attempts(server) -> int:
    return server.connections if isinstance(server, Dropper) else server.mail_attempts


def test_every_message_arrives_through_the_second_and_the_log_names_it(broken, backup):
    _kind, first, first_server = broken
    with override_settings(MAILERS={"primary": first, "backup": backup.mailer(),
                                    "transactional": failover("primary", "backup")}):
        ids = []
        for n in range(20):
            sent = Hello(name=f"N{n}").send()
            assert (sent.mailer, sent.sent_via) == ("transactional", "backup")
            ids.append(sent.delivery_id)
    assert sorted(r.message["Subject"] for r in backup.received) == sorted(
        f"Hello N{n}" for n in range(20))
    rows = Delivery.objects.filter(pk__in=ids)
    assert {(r.status, r.mailer, r.sent_via) for r in rows} == {
        (Status.SENT, "transactional", "backup")}
    assert rows.count() == 20
    if first_server is not None:
        assert attempts(first_server) == 1  # then skipped for the cooldown


def test_queued_messages_log_the_alias_used(backup, django_capture_on_commit_callbacks):
    with override_settings(MAILERS={"primary": closed_mailer(), "backup": backup.mailer(),
                                    "transactional": failover("primary", "backup")}):
        with django_capture_on_commit_callbacks(execute=True):
            row = Hello().enqueue().delivery
    row.refresh_from_db()
    assert (row.status, row.mailer, row.sent_via) == (Status.SENT, "transactional", "backup")
    assert len(backup.received) == 1


def test_a_failed_alias_is_tried_again_after_the_cooldown(backup):
    first = ReplyingServer(mail_reply="421 4.3.2 Try later").start()
    try:
        with override_settings(MAILERS={"primary": first.mailer(), "backup": backup.mailer(),
                                        "fo": failover("primary", "backup", cooldown=0.5)}):
            deliver(email(1), "fo")
            deliver(email(2), "fo")
            assert first.mail_attempts == 1
            time.sleep(0.6)
            first.mail_reply = None
            assert deliver(email(3), "fo").sent_via == "primary"
    finally:
        first.stop()
    assert [r.message["Subject"] for r in first.received] == ["Message 3"]
    assert [r.message["Subject"] for r in backup.received] == ["Message 1", "Message 2"]


def test_a_550_for_one_recipient_does_not_mark_the_first_dead(backup):
    first = ReplyingServer(refuse=("gone@example.com",)).start()
    try:
        with override_settings(MAILERS={"primary": first.mailer(), "backup": backup.mailer(),
                                        "fo": failover("primary", "backup")}):
            sent = deliver(email(1, to=("ann@example.com", "gone@example.com")), "fo")
            assert (sent.sent_via, sent.recipients) == ("primary", ["ann@example.com"])
            assert sent.refused == {"gone@example.com": (550, "5.1.1 No such user")}
            with pytest.raises(PermanentDeliveryError) as caught:
                deliver(email(2, to=("gone@example.com",)), "fo")
            assert str(caught.value) == (
                f"mailer 'primary' (127.0.0.1:{first.port}) refused the message "
                "(SMTPRecipientsRefused: {'gone@example.com': (550, b'5.1.1 No such user')}). "
                "Sending it again won't help; fix the address or the message.")
            assert deliver(email(3), "fo").sent_via == "primary"
    finally:
        first.stop()
    assert [r.message["Subject"] for r in first.received] == ["Message 1", "Message 3"]
    assert backup.received == []  # the bad address didn't cascade


def test_a_connection_lost_after_data_is_not_sent_again_elsewhere(backup):
    first = ReplyingServer().start()

    async def hang_up(server, session, envelope):
        server.transport.close()  # the whole message arrived; no reply is sent
        return "250 OK"

    first.handler.handle_DATA = hang_up
    try:
        with override_settings(MAILERS={"primary": first.mailer(), "backup": backup.mailer(),
                                        "fo": failover("primary", "backup")}):
            with pytest.raises(DeliveryOutcomeUnknown) as caught:
                deliver(email(1), "fo")
            assert caught.value.alias == "primary"
            assert backup.received == []  # it may have been delivered: not sent twice
            assert deliver(email(2), "fo").sent_via == "backup"  # primary cools down
    finally:
        first.stop()
    assert first.mail_attempts == 1


def test_every_alias_down_raises_one_transient_error():
    with override_settings(MAILERS={"a": closed_mailer(), "b": closed_mailer(),
                                    "fo": failover("a", "b")}):
        with pytest.raises(TransientDeliveryError) as first:
            deliver(email(), "fo")
        with pytest.raises(TransientDeliveryError) as caught:
            deliver(email(), "fo")
    assert str(first.value) == (
        "mailer 'fo': no mailer could send the message. Failed: 'a': "
        "ConnectionRefusedError: [Errno 111] Connection refused; 'b': "
        "ConnectionRefusedError: [Errno 111] Connection refused. Queued messages are "
        "retried; check the providers, or shorten OPTIONS 'cooldown' to try a failed "
        "mailer again sooner.")
    assert str(caught.value) == (
        "mailer 'fo': no mailer could send the message. Skipped after an earlier failure: "
        "'a' (down for 60 s more), 'b' (down for 60 s more). Queued messages are retried; "
        "check the providers, or shorten OPTIONS 'cooldown' to try a failed mailer again "
        "sooner.")
    assert caught.value.alias == "fo"


def test_a_broken_cache_does_not_stop_mail(backup, caplog, tmp_path):
    (tmp_path / "a-file").write_text("")  # a cache directory that can't be created
    with override_settings(
            CACHES={"shared": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                               "LOCATION": str(tmp_path / "a-file" / "cache")}},
            MAILERS={"primary": closed_mailer(), "backup": backup.mailer(),
                     "fo": failover("primary", "backup")}):
        assert deliver(email(), "fo").sent_via == "backup"
    assert len(backup.received) == 1
    assert "mailer 'fo' could not store 'primary''s cooldown in cache 'shared'" in caplog.text


def test_options_must_list_other_aliases():
    for options, message in [
        ({}, "OPTIONS 'mailers' is missing or empty: list the MAILERS aliases to try, e.g. "
             "{'mailers': ['ses', 'sendgrid']}."),
        ({"mailers": "ses"}, "OPTIONS 'mailers' must be a list of MAILERS aliases, not the "
                             "string 'ses': write {'mailers': ['ses']}."),
        ({"mailers": ["fo"]}, "OPTIONS 'mailers' names this mailer itself ('fo'), so it "
                              "would fall over to itself: remove 'fo' from the list."),
    ]:
        with override_settings(MAILERS={"fo": {
                "BACKEND": "txmail.backends.failover.EmailBackend", "OPTIONS": options}}):
            with pytest.raises(InvalidMailer) as caught:
                mailers["fo"]
            assert caught.value.args[0] == f"MAILERS['fo']: {message}", options


@pytest.mark.parametrize("cooldown", ["sixty", -60])
def test_a_cooldown_that_is_not_a_number_of_seconds_fails_when_built(cooldown):
    # A worker that never ran `manage.py check` (txmail.E026) hears the same.
    with override_settings(MAILERS={"fo": {
            "BACKEND": "txmail.backends.roundrobin.EmailBackend",
            "OPTIONS": {"mailers": ["default"], "cooldown": cooldown}}}):
        with pytest.raises(InvalidMailer) as caught:
            mailers["fo"]
    assert caught.value.args[0] == (
        "MAILERS['fo']: OPTIONS 'cooldown' must be a number of seconds, 0 or more (0: try "
        f"a failed mailer again at once), not {cooldown!r}. Write e.g. {{'cooldown': 60}}.")


WORKER = """
import json, os, sys
import django
django.setup()
from django.conf import settings
settings.MAILERS = json.loads(os.environ["TXMAIL_TEST_MAILERS"])
from django.core.mail import EmailMessage
from txmail.backends import deliver_many
emails = [EmailMessage(f"{sys.argv[1]} {n}", "Body", "shop@example.com", ["ann@example.com"])
          for n in range(int(sys.argv[2]))]
print(json.dumps([sent.sent_via for _e, sent in deliver_many(emails, "fo")]))
"""


def worker(name: str, count: int, mailer_settings: dict) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "TXMAIL_TEST_MAILERS": json.dumps(mailer_settings), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", WORKER, name, str(count)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> list[str]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out)


def test_the_cooldown_is_shared_between_worker_processes(backup):
    dropper = Dropper()
    config = {"primary": dropper.mailer(), "backup": backup.mailer(),
              "fo": failover("primary", "backup")}
    try:
        # Worker A finds the first server dropping connections...
        assert finish(worker("A", 5, config)) == ["backup"] * 5
        assert dropper.connections == 1
        # ...and neither A nor B tries it again inside the cooldown.
        a, b = worker("A", 10, config), worker("B", 10, config)
        assert finish(a) == finish(b) == ["backup"] * 10
        assert dropper.connections == 1
    finally:
        dropper.stop()
    assert len(backup.received) == 25


@pytest.fixture
def three_servers():
    servers = [ReplyingServer().start() for _ in range(3)]
    yield servers
    for server in servers:
        server.stop()


def test_round_robin_spreads_1000_messages_evenly(three_servers):
    config = {f"s{i}": s.mailer() for i, s in enumerate(three_servers)}
    with override_settings(MAILERS={**config, "rr": failover(*config, backend="roundrobin")}):
        outcomes = list(deliver_many((email(n) for n in range(1000)), "rr"))
    counts = Counter(sent.sent_via for _email, sent in outcomes)
    assert sum(counts.values()) == 1000
    for server in three_servers:
        assert abs(len(server.received) - 1000 / 3) <= 1000 / 3 * 0.05
    assert sorted(counts.values()) == sorted(len(s.received) for s in three_servers)


def test_round_robin_with_one_server_down_delivers_everything(three_servers):
    config = {f"s{i}": s.mailer() for i, s in enumerate(three_servers[:2])}
    config["s2"] = closed_mailer()
    with override_settings(MAILERS={**config, "rr": failover(*config, backend="roundrobin")}):
        outcomes = list(deliver_many((email(n) for n in range(300)), "rr"))
    assert {type(o).__name__ for _e, o in outcomes} == {"SentMessage"}
    subjects = [r.message["Subject"] for s in three_servers[:2] for r in s.received]
    assert sorted(subjects) == sorted(f"Message {n}" for n in range(300))
    for server in three_servers[:2]:
        assert abs(len(server.received) - 150) <= 150 * 0.05


# -- what counts as the message's fault, and what as the mailer's --------------------


@pytest.mark.parametrize("reply", ["552 5.3.4 Message size exceeds fixed limit",
                                   "550 5.6.0 Content refused"])
def test_a_message_too_big_at_mail_from_does_not_mark_the_mailer_down(backup, reply):
    first = ReplyingServer(mail_reply=reply).start()
    try:
        with override_settings(MAILERS={"primary": first.mailer(), "backup": backup.mailer(),
                                        "fo": failover("primary", "backup")}):
            for n in range(2):
                with pytest.raises(PermanentDeliveryError) as caught:
                    deliver(email(n), "fo")
                assert caught.value.alias == "primary"
                assert str(caught.value).endswith("fix the address or the message.")
    finally:
        first.stop()
    assert first.mail_attempts == 2  # tried again: not marked down
    assert backup.received == []  # another server would refuse it too


def test_a_refused_sender_is_the_mailers_problem_and_says_so(backup):
    first = ReplyingServer(mail_reply="550 5.7.1 Sender not allowed to relay").start()
    try:
        with override_settings(MAILERS={"primary": first.mailer(), "backup": backup.mailer(),
                                        "fo": failover("primary", "backup")}):
            with pytest.raises(PermanentDeliveryError) as caught:
                deliver(email(1), "primary")
            assert deliver(email(2), "fo").sent_via == "backup"
    finally:
        first.stop()
    assert str(caught.value).endswith(
        "Sending it again won't help; check the mailer's settings and account (credentials, "
        "sender domain, sending limits).")
    assert [r.message["Subject"] for r in backup.received] == ["Message 2"]


@pytest.mark.parametrize("code", [errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN])
def test_an_unreachable_network_is_worth_retrying(code):
    # What socket.connect() raises when a route is missing (not reproducible on loopback).
    assert is_transient(OSError(code, os.strerror(code)))
    assert not is_message_error(OSError(code, os.strerror(code)))


def a_real_read_timeout() -> requests.exceptions.ReadTimeout:
    """What an unrelated HTTP API (a payment gateway, say) raises when it stalls."""
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        requests.post(f"http://127.0.0.1:{listener.getsockname()[1]}/charge", data=b"{}",
                      timeout=0.2)
    except requests.exceptions.ReadTimeout as exc:
        return exc
    finally:
        listener.close()
    raise AssertionError("no timeout")


def test_an_exception_being_handled_when_sending_does_not_decide_the_outcome(
        backup, django_capture_on_commit_callbacks):
    """An app emails the customer from the except block of its payment API's timeout."""
    with override_settings(MAILERS={"primary": closed_mailer(), "backup": backup.mailer(),
                                    "fo": failover("primary", "backup"),
                                    "transactional": closed_mailer()}):
        try:
            raise a_real_read_timeout()
        except requests.exceptions.ReadTimeout:
            with pytest.raises(TransientDeliveryError):  # nothing reached any server
                Hello().send()
            assert deliver(email(1), "fo").sent_via == "backup"
            with django_capture_on_commit_callbacks(execute=True):
                row = Hello().enqueue().delivery
    assert Delivery.objects.get(queued=False).status == Status.FAILED  # not "unknown"
    row.refresh_from_db()
    assert row.status == Status.RETRYING  # retried, not given up as "unknown"
    assert [r.message["Subject"] for r in backup.received] == ["Message 1"]
