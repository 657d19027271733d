"""A bounce that comes back by mail, end to end: the listener, a worker, ``txmail.bounces``.

A message is sent with a VERP return path; the DSN a relay writes for its refused
recipient reaches ``manage.py txmail listen`` (a subprocess) at that return path; a
real ``db_worker`` hands it to ``txmail.bounces.receive()``, not to a mailbox, and the
address ends up suppressed. Skipped where ``txmail.bounces`` has no VERP yet.
"""

import base64
import json
import smtplib

import pytest

pytest.importorskip("txmail.mail.verp")
build_dsn = pytest.importorskip("tests.bounce_builder").build_dsn

from tests.test_delivery_faults import Cluster, migrated_db  # noqa: E402, F401 (fixture)
from tests.test_inbound_workers import ended, listen, rows, wait_for  # noqa: E402

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

GONE = "gone@example.com"
SEND = """
import base64, json
from django.core import mail
from django.test.utils import setup_test_environment
from tests.testapp.emails import Hello
from txmail.mail import verp

setup_test_environment()  # the locmem mailer: nothing leaves
GONE = "gone@example.com"
handle = Hello(to=[GONE]).send()
raw = mail.outbox[0].message().as_bytes()
print(json.dumps({"id": handle.delivery_id,
                  "return_path": verp.return_path(handle.delivery_id, [GONE], GONE),
                  "raw": base64.b64encode(raw).decode()}))
"""


@pytest.fixture
def cluster(tmp_path, migrated_db):  # noqa: F811
    cluster = Cluster(tmp_path, migrated_db, port=9,
                      BOUNCES={"RETURN_PATH": "bounces+{token}@bounces.example.com"},
                      INBOUND={"DOMAINS": ["example.com", "example.org", "bounces.example.com"]})
    cluster.env["DJANGO_SETTINGS_MODULE"] = "tests.inbound_worker_settings"
    yield cluster
    cluster.stop()


def test_a_dsn_to_a_return_path_suppresses_the_address(cluster):
    sent = json.loads(cluster.python(SEND))
    original = (f"Return-Path: <{sent['return_path']}>\r\n".encode()
                + base64.b64decode(sent["raw"]).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    dsn = build_dsn(original, recipient=GONE, reply="550 5.1.1 User unknown")
    port = listen(cluster)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        # A bounce comes from the null sender (RFC 5321, 4.5.5).
        assert client.sendmail("<>", [sent["return_path"]], dsn) == {}
    cluster.start_worker()
    [row] = wait_for(cluster, ended(1))
    assert (row["envelope_recipient"], row["status"], row["mailbox"], row["error"]) == (
        sent["return_path"], "processed", "", "")
    assert row["outcome"] == f"Hard bounce of {GONE} (5.1.1) on delivery {sent['id']}: suppressed."
    suppressed = json.loads(cluster.python(
        "import json\nfrom txmail.suppression.models import Suppression\n"
        "print(json.dumps(list(Suppression.objects.values_list('address', 'delivery_id'))))"))
    assert suppressed == [[GONE, sent["id"]]]
    assert [r["source"] for r in rows(cluster)] == ["smtp"]
