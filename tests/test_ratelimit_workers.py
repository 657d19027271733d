"""One rate limit shared by real ``db_worker`` processes (TXMAIL["RATE_LIMITS"], issue #20).

Two django-tasks-db workers share a file SQLite database and send to aiosmtpd;
the server's arrival times are the measure. Under "20/s" the rate over the
whole run stays within 5 % of 20/s, and each message arrives once; a 421 from
the server holds the alias back for both workers.
"""

import time
from collections import Counter

import pytest

from tests.smtp import SMTPServer
from tests.test_delivery_faults import Cluster, migrated_db  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

PRODUCE = """
import sys
from django.db import transaction
from tests.testapp.emails import Hello
count = int(sys.argv[1])
with transaction.atomic():
    for i in range(count):
        Hello(name=f"n{i}", to=[f"user{i}@example.com"]).enqueue()
"""


class SlowDownServer(SMTPServer):
    """aiosmtpd answering the ``at``-th message's DATA with 421; notes when."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.seen, self.refused_at = at, 0, None
        accept = self.handler.handle_DATA

        async def handle_data(server, session, envelope):
            self.seen += 1
            if self.seen == self.at:
                self.refused_at = time.time()
                return "421 4.7.0 Too many messages, slow down"
            return await accept(server, session, envelope)

        self.handler.handle_DATA = handle_data


@pytest.fixture
def cluster(request, tmp_path):
    clusters: list[Cluster] = []
    database = getattr(request, "param", "sqlite")
    pg = request.getfixturevalue("postgresql") if database == "postgresql" else None
    template = None if pg else request.getfixturevalue("migrated_db")

    def make(server: SMTPServer, **txmail: object) -> Cluster:
        made = Cluster(tmp_path, template, server.port, pg=pg, **txmail)
        clusters.append(made)
        return made

    yield make
    for made in clusters:
        made.stop()


def run_all(cluster: Cluster, server: SMTPServer, count: int, timeout: float) -> None:
    cluster.python(PRODUCE, count)  # all queued first: the workers' pace is the limit's
    cluster.start_worker()
    cluster.start_worker()
    deadline = time.monotonic() + timeout
    while cluster.statuses().get("sent", 0) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"Not sent after {timeout} s: {dict(cluster.statuses())}\n"
                        f"{cluster.logs()}")
        time.sleep(0.3)
    time.sleep(0.5)  # a duplicate would arrive now


# PostgreSQL (row locks under the compare-and-set) with fewer messages: CI time.
@pytest.mark.parametrize(("cluster", "count"), [("sqlite", 400), ("postgresql", 200)],
                         indirect=["cluster"])
def test_two_workers_under_20_per_second_stay_within_5_percent(tmp_path, cluster, count):
    server = SMTPServer().start()
    try:
        workers = cluster(server, RATE_LIMITS={"transactional": "20/s"}, BATCH_SIZE=20,
                          CONNECTIONS=2)
        run_all(workers, server, count, timeout=90)
    finally:
        server.stop()
    times = sorted(r.at for r in server.received)
    rate = (len(times) - 1) / (times[-1] - times[0])
    print(f"\n{count} messages, two workers, limit 20/s: {rate:.2f}/s over "
          f"{times[-1] - times[0]:.1f} s")
    assert 19 <= rate <= 21, rate
    # No second counted on its own went much over: a burst would show here. The
    # limiter grants the slots; a lane that stalls between its grant and the
    # server (a loaded machine) lands its message in a later second, one per lane
    # at most, since a lane holds one grant at a time: 20, one for where the
    # seconds are cut, and the lanes. A limiter that let a burst through would
    # show the workers' own pace, well over 100 a second.
    lanes = 2 * 2  # two workers, CONNECTIONS=2
    per_second = Counter(int(t - times[0]) for t in times)
    assert max(per_second.values()) <= 20 + 1 + lanes, per_second
    ids = Counter(r.message["Message-ID"] for r in server.received)
    assert len(ids) == count and set(ids.values()) == {1}  # each once, none lost
    assert {row["message_id"] for row in workers.rows()} == set(ids)


def test_a_421_holds_the_alias_back_for_both_workers(tmp_path, cluster):
    count, hold = 60, 3
    server = SlowDownServer(at=20).start()
    try:
        workers = cluster(server, RATE_LIMITS={"transactional": {"rate": "40/s",
                                                                 "slow_down": hold}},
                          BATCH_SIZE=10, CONNECTIONS=2)
        run_all(workers, server, count, timeout=60)
    finally:
        server.stop()
    assert server.refused_at is not None
    times = sorted(r.at for r in server.received)
    during = [round(t - server.refused_at, 2) for t in times
              if server.refused_at < t < server.refused_at + hold - 0.1]
    # Sends already under way when the 421 came (one per other lane at most) may
    # land; nothing starts after the hold is written.
    assert len(during) <= 3 and all(t < 0.3 for t in during), during
    after = [t for t in times if t > server.refused_at]
    assert after and after[0] - server.refused_at < hold + 2.5  # and then it goes on
    ids = Counter(r.message["Message-ID"] for r in server.received)
    assert len(ids) == count and set(ids.values()) == {1}
    # Both workers were sending when it came: each held rows back.
    logs = workers.logs()
    assert "was told to slow down" in logs
