"""A bounce that comes back by mail, the whole round trip, every part real.

A ``db_worker`` sends a message over SMTP with VERP (one transaction per recipient) to
a relay; the next server refuses one recipient (550); the relay writes the DSN to that
copy's return path and delivers it to ``manage.py txmail listen`` (a subprocess); the
worker hands it to ``txmail.bounces.receive()``, not to a mailbox; the address is
suppressed, and the next message to it is never sent.
"""

import json
import smtplib
import time

import pytest

from tests.test_bounces_roundtrip import GONE, relay, remote  # noqa: F401 (fixtures)
from tests.test_delivery_faults import Cluster, migrated_db  # noqa: F401 (fixture)
from tests.test_inbound_workers import ended, listen, rows, wait_for

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

ENQUEUE = """
import sys
from tests.testapp.emails import Hello
print(Hello(to=sys.argv[1:]).enqueue().delivery.pk)
"""
STATE = """
import json
from txmail.delivery.models import Delivery
from txmail.suppression.models import Suppression
print(json.dumps({"deliveries": list(Delivery.objects.order_by("pk").values_list("pk", "status")),
                  "suppressed": list(Suppression.objects.values_list("address", "delivery_id"))}))
"""


@pytest.fixture
def cluster(tmp_path, migrated_db, relay):  # noqa: F811
    cluster = Cluster(tmp_path, migrated_db, port=relay.port,
                      BOUNCES={"RETURN_PATH": "bounces+{token}@bounces.example.com"},
                      INBOUND={"DOMAINS": ["example.com", "example.org", "bounces.example.com"]})
    cluster.env["DJANGO_SETTINGS_MODULE"] = "tests.inbound_worker_settings"
    yield cluster
    cluster.stop()


def state(cluster):
    return json.loads(cluster.python(STATE))


def wait(condition, cluster, timeout=60):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, cluster.logs()
        time.sleep(0.3)
    return found


def test_a_550_comes_back_as_a_dsn_suppresses_the_address_and_the_next_send_skips_it(
        cluster, relay, remote):  # noqa: F811
    port = listen(cluster)
    cluster.start_worker()
    first = int(cluster.python(ENQUEUE, GONE, "ann@example.com"))
    [(return_path, dsn)] = wait(lambda: relay.dsns, cluster)
    # The copy to GONE went out from its own return path; ann's from another.
    assert [(r.mail_from, r.rcpt_tos) for r in relay.received] == [
        (return_path, [GONE]), (relay.received[1].mail_from, ["ann@example.com"])]
    assert relay.received[1].mail_from != return_path
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        # The relay delivers the DSN to the return path's MX, from the null sender.
        assert client.sendmail("<>", [return_path], dsn) == {}
    [row] = wait_for(cluster, ended(1))
    assert (row["envelope_recipient"], row["source"], row["status"], row["mailbox"]) == (
        return_path, "smtp", "processed", "")
    assert row["outcome"] == f"Hard bounce of {GONE} (5.1.1) on delivery {first}: suppressed."
    assert state(cluster)["suppressed"] == [[GONE, first]]

    again = int(cluster.python(ENQUEUE, GONE))
    done = {"sent", "failed", "unknown", "suppressed"}
    found = wait(lambda: (s := state(cluster))["deliveries"][-1][1] in done and s, cluster)
    assert found["deliveries"] == [[first, "sent"], [again, "suppressed"]]
    assert [r.rcpt_tos for r in remote.received] == [["ann@example.com"]]
    assert len(relay.received) == 2  # the second message never left
    assert [r["source"] for r in rows(cluster)] == ["smtp"]
