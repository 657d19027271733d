"""A round trip: sent over SMTP with VERP to a relay, bounced by the next server, the DSN
back to the return path, the address suppressed, the next message to it not sent."""

import smtplib

import pytest
from django.test import override_settings

from tests.bounce_builder import build_dsn
from tests.smtp import SMTPServer
from tests.testapp.emails import Hello
from txmail import bounces
from txmail.delivery import queue
from txmail.delivery.models import Delivery, Status
from txmail.mail import verp
from txmail.suppression.models import Reason, Suppression

pytestmark = pytest.mark.smtp

BOUNCES = {"BOUNCES": {"RETURN_PATH": "bounces+{token}@bounces.example.com"}}
GONE = "gone@example.com"


@pytest.fixture
def remote():
    """The recipients' server: no such user as GONE (550 at RCPT)."""
    server = SMTPServer().start()

    async def handle_rcpt(srv, session, envelope, address, rcpt_options):
        if address == GONE:
            return "550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    server.handler.handle_RCPT = handle_rcpt
    yield server
    server.stop()


@pytest.fixture
def relay(remote):
    """A relay: it accepts everything, passes it on to ``remote``, and writes a DSN to the
    envelope sender for each recipient the remote refused (``dsns``)."""
    server = SMTPServer().start()
    server.dsns = []
    keep = server.handler.handle_DATA

    async def handle_data(srv, session, envelope):
        answer = await keep(srv, session, envelope)
        with smtplib.SMTP("127.0.0.1", remote.port, timeout=10) as onward:
            try:
                refused = onward.sendmail(envelope.mail_from, envelope.rcpt_tos,
                                          envelope.original_content)
            except smtplib.SMTPRecipientsRefused as exc:
                refused = exc.recipients
        original = f"Return-Path: <{envelope.mail_from}>\r\n".encode() + envelope.original_content
        for address, (code, reply) in refused.items():
            server.dsns.append((envelope.mail_from, build_dsn(
                original, recipient=address, reply=f"{code} {reply.decode()}")))
        return answer

    server.handler.handle_DATA = handle_data
    yield server
    server.stop()


def test_a_bounce_from_the_next_server_suppresses_the_address(relay, remote):
    with override_settings(MAILERS={"transactional": relay.mailer()},
                           TXMAIL={**BOUNCES, "TASK_BACKEND": "db"}):
        row = Hello(to=[GONE, "ann@example.com"]).enqueue().delivery
        assert queue.run(row.pk) == {"sent": 1}
        [(return_path, dsn)] = relay.dsns
        # To the return path of gone's copy: each recipient's copy has its own.
        assert return_path == verp.return_path(row.pk, row.recipients, GONE)
        said = bounces.receive(dsn, return_path)
        assert said == f"Hard bounce of {GONE} (5.1.1) on delivery {row.pk}: suppressed."
        again = Hello(to=[GONE]).enqueue().delivery
        queue.run(again.pk)
    assert [r.rcpt_tos for r in remote.received] == [["ann@example.com"]]
    entry = Suppression.objects.get()
    assert (entry.address, entry.reason, entry.delivery_id) == (GONE, Reason.BOUNCED, row.pk)
    event = Delivery.objects.get(pk=row.pk).events.get()
    assert (event.event_type, event.recipient) == ("bounced", GONE)
    assert "550 5.1.1" in event.mta_response
    assert Delivery.objects.get(pk=again.pk).status == Status.SUPPRESSED
    # The first message's two copies; the next message never reached the relay.
    assert [r.rcpt_tos for r in relay.received] == [[GONE], ["ann@example.com"]]
