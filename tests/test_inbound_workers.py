"""Inbound mail through real processes: the listener, the stdin command, db_worker.

Each test has a migrated SQLite file; ``manage.py txmail listen`` (SMTP, LMTP)
and ``manage.py txmail inbound`` run as subprocesses on it, smtplib talks to
the listener, and a real ``db_worker`` processes what they stored with
``tests.inboundapp``'s mailboxes (``tests/inbound_worker_settings.py``).
"""

import email.policy
import json
import re
import smtplib
import ssl
import subprocess
import sys
import time
from email.message import EmailMessage

import pytest

from tests.processes import ROOT
from tests.test_delivery_faults import Cluster, migrated_db  # noqa: F401 (fixture)

pytestmark = [pytest.mark.smtp, pytest.mark.worker]


@pytest.fixture
def cluster(tmp_path, migrated_db):  # noqa: F811
    cluster = Cluster(tmp_path, migrated_db, port=9)
    cluster.env["DJANGO_SETTINGS_MODULE"] = "tests.inbound_worker_settings"
    yield cluster
    cluster.stop()


def message(to="support@example.com", subject="Where is my order?", body="Order 1042.",
            **headers) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann <ann@customer.example>"
    msg["To"] = to
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes(policy=email.policy.SMTP)  # CRLF, as on the wire


def rows(cluster: Cluster) -> list[dict]:
    return json.loads(cluster.python(
        "import json\nfrom txmail.inbound.models import InboundMessage\n"
        "print(json.dumps(list(InboundMessage.objects.order_by('pk').values("
        "'envelope_recipient', 'envelope_sender', 'source', 'status', 'attempts', 'mailbox', "
        "'outcome', 'error', 'subject', 'delivery_id'))))"))


def wait_for(cluster: Cluster, done, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = rows(cluster)
        if done(found):
            return found
        assert time.monotonic() < deadline, f"{found}\n{cluster.logs()}"
        time.sleep(0.3)


def listen(cluster: Cluster, *args: str) -> int:
    """Start ``manage.py txmail listen --port 0 ARGS``; return the port it printed."""
    name = f"listener{len(cluster.background)}"
    cluster.spawn(["-m", "django", "txmail", "listen", "--port", "0", *args], name)
    log = cluster.dir / f"{name}.log"
    deadline = time.monotonic() + 30
    while not (found := re.search(r"on 127\.0\.0\.1:(\d+) for", log.read_text())):
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return int(found[1])


def ended(count: int):
    return lambda found: len(found) == count and all(
        r["status"] in ("processed", "bounced", "failed") for r in found)


def test_the_smtp_listener_stores_what_it_accepts_and_a_worker_processes_it(cluster):
    port = listen(cluster)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("size") and client.esmtp_features["size"] == str(64 * 1024)
        refused = client.sendmail("ann@customer.example", ["support@example.com"], message())
    assert refused == {}
    cluster.start_worker()
    [row] = wait_for(cluster, ended(1))
    assert row == {
        "envelope_recipient": "support@example.com", "envelope_sender": "ann@customer.example",
        "source": "smtp", "status": "processed", "attempts": 1,
        "mailbox": "inboundapp.Support", "error": "", "subject": "Where is my order?",
        "outcome": "ticket: Where is my order? / Order 1042. / reply to None",
        "delivery_id": None}


def test_the_listener_never_relays_and_refuses_unknown_mailboxes_and_oversized_mail(cluster):
    port = listen(cluster)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        client.mail("spammer@elsewhere.example")
        assert client.rcpt("victim@elsewhere.example") == (
            550, b"5.7.1 Relaying denied: this server accepts mail for its own domains only")
        assert client.rcpt("nobody@example.com") == (550, b"5.1.1 No such mailbox here")
        assert client.rcpt("anyone@example.org")[0] == 250  # Orders: *@example.org
        client.rset()
        with pytest.raises(smtplib.SMTPSenderRefused) as raised:  # SIZE= above the limit
            client.sendmail("ann@customer.example", ["support@example.com"],
                            message(body=("x" * 70 + "\n") * 1000))
        assert raised.value.smtp_code == 552
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        # A client that doesn't declare the size is cut off during DATA.
        client.helo()
        client.mail("ann@customer.example")
        client.rcpt("support@example.com")
        code, _reply = client.data(message(body=("y" * 70 + "\n") * 1000))
        assert code == 552
    assert rows(cluster) == []


def test_the_lmtp_listener_answers_each_recipient(cluster):
    port = listen(cluster, "--lmtp")
    with smtplib.LMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo_or_helo_if_needed()
        client.mail("ann@customer.example")
        assert client.rcpt("support@example.com")[0] == 250
        assert client.rcpt("orders@example.org")[0] == 250
        assert client.rcpt("victim@elsewhere.example")[0] == 550
        first = client.data(message(to="support@example.com, orders@example.org"))
        second = client.getreply()  # RFC 2033: one reply per accepted recipient
    assert first == (250, b"2.0.0 Message accepted")
    assert second == (250, b"2.0.0 Message accepted")
    cluster.start_worker()
    found = wait_for(cluster, ended(2))
    assert [(r["envelope_recipient"], r["source"], r["status"], r["outcome"]) for r in found] == [
        ("support@example.com", "lmtp", "processed",
         "ticket: Where is my order? / Order 1042. / reply to None"),
        ("orders@example.org", "lmtp", "processed", "order mail for orders@example.org")]


def test_an_address_named_twice_is_stored_once_and_recipients_are_capped(cluster):
    smtp, lmtp = listen(cluster), listen(cluster, "--lmtp")
    with smtplib.SMTP("127.0.0.1", smtp, timeout=10) as client:
        client.ehlo()
        client.mail("ann@customer.example")
        replies = [client.rcpt("support@example.com" if i % 2 else "SUPPORT@example.com")[0]
                   for i in range(100)]
        assert replies == [250] * 100
        assert client.rcpt("orders@example.org") == (
            452, b"4.5.3 Too many recipients: send the rest in another transaction")
        assert client.data(message())[0] == 250
    with smtplib.LMTP("127.0.0.1", lmtp, timeout=10) as client:
        client.ehlo_or_helo_if_needed()
        client.mail("ann@customer.example")
        for address in ("orders@example.org", "support@example.com", "Orders@example.org"):
            assert client.rcpt(address)[0] == 250
        # RFC 2033: one reply per accepted RCPT, the repeated address's too.
        replies = [client.data(message())[0], client.getreply()[0], client.getreply()[0]]
        assert replies == [250, 250, 250]
        client.rset()  # the connection is still in step: no reply was left unread
    assert sorted((r["envelope_recipient"], r["source"]) for r in rows(cluster)) == [
        ("SUPPORT@example.com", "smtp"), ("orders@example.org", "lmtp"),
        ("support@example.com", "lmtp")]


def inbound_command(cluster: Cluster, raw: bytes, *args: str, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "django", "txmail", "inbound", *args], input=raw,
        env={**cluster.env, **(env or {})}, cwd=ROOT, capture_output=True, timeout=60)


def test_the_stdin_command_stores_a_piped_message_and_exits_per_sysexits(cluster, tmp_path):
    done = inbound_command(cluster, message(), "--recipient", "support@example.com",
                           "--sender", "ann@customer.example")
    assert (done.returncode, done.stderr) == (0, b"")
    unknown = inbound_command(cluster, message(), "--recipient", "nobody@example.com")
    assert unknown.returncode == 67  # EX_NOUSER: Postfix bounces it
    assert b"No mailbox routes 'nobody@example.com'" in unknown.stderr
    big = inbound_command(cluster, message(body=("z" * 70 + "\n") * 1000), "--recipient",
                          "support@example.com")
    assert big.returncode == 65  # EX_DATAERR
    usage = inbound_command(cluster, message())
    assert usage.returncode == 64
    # The database can't be opened: EX_TEMPFAIL, so Postfix keeps it and tries again.
    away = inbound_command(cluster, message(), "--recipient", "support@example.com",
                           env={"TXMAIL_TEST_DB": str(tmp_path / "gone" / "db.sqlite3")})
    assert away.returncode == 75, away.stderr
    assert b"try again later" in away.stderr
    cluster.start_worker()
    [row] = wait_for(cluster, ended(1))
    assert (row["source"], row["envelope_sender"], row["status"]) == (
        "stdin", "ann@customer.example", "processed")


def test_a_worker_retries_a_failing_process_and_links_replies(cluster):
    sent = json.loads(cluster.python(
        "import json\nfrom tests.inboundapp.emails import Notice\n"
        "from django.core import mail\nfrom txmail.delivery.models import Delivery\n"
        "from django.test.utils import setup_test_environment\n"
        "setup_test_environment()  # the locmem mailer: nothing leaves\n"
        "handle = Notice().send()\n"
        "print(json.dumps({'id': handle.delivery_id, 'message_id': handle.message_id,\n"
        "                  'reply_to': mail.outbox[0].reply_to[0]}))"))
    ident, _dot, signature = sent["reply_to"].removeprefix("reply+").partition("@")[0].partition(
        ".")
    forged = f"reply+{ident}.{'b' * len(signature)}@example.com"
    for recipient, headers in [
            ("flaky@example.com", {}),
            ("support@example.com", {"In_Reply_To": sent["message_id"]}),
            (sent["reply_to"], {}),
            (forged, {}),
            ("noreply@example.com", {})]:
        done = inbound_command(cluster, message(to=recipient, **headers), "--recipient",
                               recipient)
        assert done.returncode == 0, done.stderr
    cluster.start_worker()
    found = wait_for(cluster, ended(5))
    assert [(r["status"], r["attempts"], r["delivery_id"], r["outcome"], r["error"])
            for r in found] == [
        ("processed", 2, None, "processed at attempt 2", ""),
        ("processed", 1, sent["id"], "ticket: Where is my order? / Order 1042. / reply to "
         f"{sent['id']}", ""),
        ("processed", 1, sent["id"], f"comment on {sent['id']} (token {ident[:4]})", ""),
        ("processed", 1, None, f"comment on None (token {ident[:4]})", ""),
        ("bounced", 1, None, "", "This address takes no mail; write to support@example.com.")]


def test_the_listener_offers_starttls_with_a_certificate(cluster, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    port = listen(cluster, "--tls-cert", str(cert), "--tls-key", str(key))
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False  # the certificate names localhost, the test dials an IP
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        client.starttls(context=context)
        client.ehlo()
        assert client.sock.version().startswith("TLS")
        assert client.sendmail("ann@customer.example", ["support@example.com"], message()) == {}
    assert [r["source"] for r in rows(cluster)] == ["smtp"]
