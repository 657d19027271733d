"""VERP: every SMTP send goes out from its delivery's own signed return paths, one per
recipient: a delivery to several is one SMTP transaction per recipient."""

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.bounce_builder import build_dsn
from tests.faulty_smtp import MESSAGE_FAULTS, FaultySMTPServer
from tests.smtp import ScriptedServer
from tests.testapp.emails import Hello
from txmail import bounces
from txmail.delivery import queue
from txmail.delivery.models import Delivery, Status
from txmail.mail import verp
from txmail.suppression.models import Suppression
from txmail.webhooks.models import DeliveryEvent

pytestmark = pytest.mark.smtp

BOUNCES = {"BOUNCES": {"RETURN_PATH": "bounces+{token}@bounces.example.com"}}
QUEUED = {**BOUNCES, "TASK_BACKEND": "db", "RETRY_DELAY": 0}
ANN, BOB, CY = "ann@example.com", "bob@example.com", "cy@example.com"


def paths(row):
    """Each recipient of ``row`` → the return path its copy goes out from."""
    with override_settings(TXMAIL=BOUNCES):
        return {address: verp.return_path(row.pk, row.recipients, address)
                for address in row.recipients}


def three():
    return Hello(to=[ANN], cc=[BOB], bcc=[CY])


def record_mail_from(server):
    """Every MAIL FROM ``server`` is given, in order, accepted or not in the end."""
    seen = []

    async def handle_mail(srv, session, envelope, address, mail_options):
        seen.append(address)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    server.handler.handle_MAIL = handle_mail
    return seen


def test_a_queued_send_and_its_retry_go_out_from_the_rows_return_path():
    server = ScriptedServer(["451 4.3.0 Try again later"]).start()
    try:
        with override_settings(MAILERS={"transactional": server.mailer()}, TXMAIL=QUEUED):
            row = Hello().enqueue().delivery
            queue.run(row.pk)  # refused for now: retried
            Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
            queue.run(row.pk)
        expected = paths(row)[ANN]
        [received] = server.received  # the first DATA was refused before it was kept
        assert received.mail_from == expected
        assert expected.startswith("bounces+") and expected.endswith("@bounces.example.com")
        # The header's From is the class's, whatever the envelope says.
        assert received.message["From"] == "Example Shop <shop@example.com>"
        assert Delivery.objects.get(pk=row.pk).attempts == 2
    finally:
        server.stop()


def test_a_delivery_to_three_is_three_transactions_each_from_its_recipients_path(
        smtp_server):
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}, TXMAIL=QUEUED):
        row = three().enqueue().delivery
        assert queue.run(row.pk) == {"sent": 1}
    expected = paths(row)
    assert [(r.mail_from, r.rcpt_tos) for r in smtp_server.received] == [
        (expected[ANN], [ANN]), (expected[BOB], [BOB]), (expected[CY], [CY])]
    assert len(set(expected.values())) == 3
    # The same bytes in each (a DKIM signature covers them, not the envelope).
    assert len({r.data for r in smtp_server.received}) == 1
    assert "Bcc" not in smtp_server.received[0].message
    row.refresh_from_db()
    assert (row.status, row.refused) == (Status.SENT, {})


def test_send_now_to_two_goes_out_from_each_recipients_path(smtp_server):
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}, TXMAIL=BOUNCES):
        sent = Hello(to=[ANN, BOB]).send()
    expected = paths(Delivery.objects.get(pk=sent.delivery_id))
    assert [(r.mail_from, r.rcpt_tos) for r in smtp_server.received] == [
        (expected[ANN], [ANN]), (expected[BOB], [BOB])]


def test_a_retry_sends_the_same_bytes_from_the_same_return_paths():
    server = ScriptedServer(["451 4.3.0 Try again later"]).start()
    seen = record_mail_from(server)
    try:
        with override_settings(MAILERS={"transactional": server.mailer()}, TXMAIL=QUEUED):
            row = three().enqueue().delivery
            # Nobody had it: all of it again (RETRY_DELAY 0: in the same run).
            assert queue.run(row.pk) == {"retrying": 1, "sent": 1}
    finally:
        server.stop()
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 2)
    expected = paths(row)
    assert seen == [expected[ANN], expected[ANN], expected[BOB], expected[CY]]
    assert [r.rcpt_tos for r in server.received] == [[ANN], [BOB], [CY]]


@pytest.mark.parametrize("reply", ["550 5.1.1 <bob@example.com>: User unknown",
                                   "451 4.3.0 <bob@example.com>: try again later"])
def test_a_refused_recipient_is_reported_and_the_others_sent(smtp_server, reply):
    async def handle_rcpt(srv, session, envelope, address, rcpt_options):
        if address == BOB:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp_server.handler.handle_RCPT = handle_rcpt
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}, TXMAIL=QUEUED):
        row = three().enqueue().delivery
        queue.run(row.pk)
    expected = paths(row)
    assert [(r.mail_from, r.rcpt_tos) for r in smtp_server.received] == [
        (expected[ANN], [ANN]), (expected[CY], [CY])]
    row.refresh_from_db()
    assert row.status == Status.SENT
    assert row.refused == {BOB: [int(reply[:3]), reply[4:]]}
    # Refused for now: a row of its own tries bob again later (refused until it gives up).
    later = list(Delivery.objects.filter(resent_from=row).values_list("recipients", "status"))
    assert later == ([([BOB], Status.FAILED)] if reply.startswith("4") else [])


def _sent_to_three(server):
    with override_settings(MAILERS={"transactional": server.mailer()}, TXMAIL=QUEUED):
        row = three().enqueue().delivery
        assert queue.run(row.pk) == {"sent": 1}
    return row, {r.rcpt_tos[0]: r for r in server.received}


def _rows():
    return (sorted(DeliveryEvent.objects.values_list("delivery", "event_type", "recipient")),
            sorted(Suppression.objects.values_list("address", "reason")),
            sorted(Delivery.objects.values_list("pk", "status", "updated_at")))


def _returned(received):
    """The bytes as a relay holds them: with the Return-Path of the copy's envelope."""
    return f"Return-Path: <{received.mail_from}>\r\n".encode() + received.data


def test_a_recipient_can_not_bounce_a_co_recipient(smtp_server):
    """Ann got her copy from her own return path: a DSN about bob sent there is not
    applied, and bob's own return path is in no copy but bob's."""
    row, copies = _sent_to_three(smtp_server)
    anns = copies[ANN].mail_from
    before = _rows()
    forged = build_dsn(_returned(copies[ANN]), recipient=BOB,
                       reply="550 5.1.1 <bob@example.com>: User unknown")
    with override_settings(TXMAIL=BOUNCES):
        said = bounces.receive(forged, anns)
    assert said == (f"Not applied: {anns!r} is the return path of delivery {row.pk} to "
                    f"{ANN}, not to {BOB}; nothing changed.")
    assert _rows() == before
    # Nor does ann's token, moved to bob's place in the list, name bob.
    token = anns.split("+", 1)[1].split("@")[0]
    moved = anns.replace(token, token.replace("-0-", "-1-", 1))
    with override_settings(TXMAIL=BOUNCES):
        said = bounces.receive(forged, moved)
    assert said.startswith("Not applied: forged: ")
    assert _rows() == before


def test_a_bounce_at_a_recipients_own_return_path_suppresses_that_recipient_only(
        smtp_server):
    row, copies = _sent_to_three(smtp_server)
    dsn = build_dsn(_returned(copies[BOB]), recipient=BOB,
                    reply="550 5.1.1 <bob@example.com>: User unknown")
    with override_settings(TXMAIL=BOUNCES):
        said = bounces.receive(dsn, copies[BOB].mail_from)
        assert said == f"Hard bounce of {BOB} (5.1.1) on delivery {row.pk}: suppressed."
        again = bounces.receive(dsn, copies[BOB].mail_from)
    assert again.startswith("Replayed: ")
    assert list(Suppression.objects.values_list("address", flat=True)) == [BOB]
    assert list(row.events.values_list("recipient", flat=True)) == [BOB]


def _faulty(*faults):
    """A server whose mail transactions meet ``faults`` in order (None: none), then none."""
    server = FaultySMTPServer()
    script = list(faults)
    server.plan.draw = lambda kinds: (script.pop(0) if script else None) \
        if kinds == MESSAGE_FAULTS else None
    return server.start()


def test_a_connection_lost_after_the_second_of_three_is_unknown_and_not_resent():
    server = _faulty(None, "drop_after_dot")
    try:
        with override_settings(MAILERS={"transactional": server.mailer()}, TXMAIL=QUEUED):
            row = three().enqueue().delivery
            assert queue.run(row.pk) == {"unknown": 1}
            queue.run(row.pk)
    finally:
        server.stop()
    row.refresh_from_db()
    assert row.status == Status.UNKNOWN
    assert f"sent to {BOB}, before the server replied" in row.last_error
    assert f"{ANN} had accepted it; {CY} were not sent it" in row.last_error
    # Kept by the server (it may have queued it), each once: no duplicate.
    assert [r.rcpt_tos for r in server.received] == [[ANN], [BOB]]


@pytest.mark.parametrize("fault", ["drop_before_data", "mail_421"])
def test_a_connection_gone_before_the_second_of_three_sends_the_rest_later(fault):
    server = _faulty(None, fault)
    try:
        with override_settings(MAILERS={"transactional": server.mailer()}, TXMAIL=QUEUED):
            row = three().enqueue().delivery
            # Bob and cy's row of their own too (RETRY_DELAY 0: in the same run).
            assert queue.run(row.pk) == {"sent": 2}
    finally:
        server.stop()
    row.refresh_from_db()
    [later] = Delivery.objects.filter(resent_from=row)
    assert (row.status, later.status, later.recipients) == (Status.SENT, Status.SENT, [BOB, CY])
    assert {address: code for address, (code, _reply) in row.refused.items()} == {
        BOB: 421, CY: 421}
    # Each once, bob and cy from the return paths of the row that sent them.
    assert [(r.mail_from, r.rcpt_tos) for r in server.received] == [
        (paths(row)[ANN], [ANN]), (paths(later)[BOB], [BOB]), (paths(later)[CY], [CY])]


@override_settings(TXMAIL=BOUNCES)
def test_a_token_is_unforgeable_and_names_one_recipient_of_one_delivery():
    recipients = [ANN, BOB]
    path = verp.return_path(42, recipients, ANN)
    found = verp.read(path)
    assert (found.delivery_id, found.index) == (42, 0)
    assert verp.signed(found, ANN) and verp.signed(found, "Ann <ANN@example.com>")
    assert not verp.signed(found, BOB)
    assert verp.read(path.upper()) == found  # an MTA may change the local part's case
    assert verp.matches(path)
    bobs = verp.return_path(42, recipients, BOB)
    assert bobs != path and verp.read(bobs).index == 1
    # Another id or index with this MAC, a changed MAC, another domain: none is signed.
    number, index, mac = path.split("+", 1)[1].split("@")[0].split("-")
    for forged in (f"15-{index}-{mac}", f"{number}-1-{mac}",
                   f"{number}-{index}-{'a' if mac[0] != 'a' else 'b'}{mac[1:]}"):
        found_forged = verp.read(path.replace(f"{number}-{index}-{mac}", forged))
        assert found_forged is not None
        assert not verp.signed(found_forged, ANN) and not verp.signed(found_forged, BOB)
    assert verp.read(path.replace("bounces.example.com", "evil.example")) is None
    with override_settings(SECRET_KEY="another-key",
                           SECRET_KEY_FALLBACKS=["txmail-tests-not-secret"]):
        assert verp.signed(verp.read(path), ANN)  # a rotated key still reads old bounces
    with override_settings(SECRET_KEY="another-key"):
        assert not verp.signed(verp.read(path), ANN)


def test_without_the_setting_the_envelope_sender_is_the_from_address(smtp_server):
    with override_settings(MAILERS={"transactional": smtp_server.mailer()}):
        Hello(to=[ANN, BOB]).send()
    # One transaction for both, as without VERP always.
    assert [(r.mail_from, r.rcpt_tos) for r in smtp_server.received] == [
        ("shop@example.com", [ANN, BOB])]


def test_template_problems_say_the_fix():
    assert verp.template_problem("bounces+{token}@bounces.example.com") is None
    assert "once" in verp.template_problem("bounces@bounces.example.com")
    assert "no domain" in verp.template_problem("bounces+{token}")
    assert "valid domain" in verp.template_problem("bounces+{token}@localhost")
