"""Idempotency keys under concurrency: real processes, threads, SQLite and PostgreSQL.

A producer process runs concurrent callers (threads, each with its own database
connection, each in its own transaction, as concurrent requests are); real
``db_worker`` processes send what was stored to an aiosmtpd server. Each test
runs on a file SQLite database (writers wait for each other: BEGIN IMMEDIATE)
and on a PostgreSQL server of its own, where a second inserter of a key waits
on the first's uncommitted row: the unique constraint decides either way.
"""

import json
import time

import pytest

from tests.test_delivery_faults import (  # noqa: F401 (fixtures)
    Cluster,
    cluster_factory,
    migrated_db,
)

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

CALLERS = 50

PRODUCE = """
import json, sys, threading
from django.db import connection, transaction
from tests.testapp.emails import Hello

count = int(sys.argv[1])
start = threading.Barrier(count)
results = [None] * count

def call(i):
    start.wait()
    try:
        with transaction.atomic():  # a request's transaction
            handle = Hello(name="receipt 1042", to=["ann@example.com"]).enqueue(
                idempotency_key="receipt/1042")
        results[i] = [handle.delivery_id, handle.deduplicated]
    except Exception as exc:
        results[i] = repr(exc)
    finally:
        connection.close()

threads = [threading.Thread(target=call, args=(i,)) for i in range(count)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(results))
"""

# The first caller holds the key in an open transaction for a second; the
# second caller starts meanwhile. argv[1]: how the first's transaction ends.
HOLD = """
import json, sys, threading, time
from django.db import connection, transaction
from tests.testapp.emails import Hello

ending = sys.argv[1]
holding = threading.Event()
results = {}

def first():
    try:
        with transaction.atomic():
            handle = Hello(name="first", to=["ann@example.com"]).enqueue(
                idempotency_key="receipt/7")
            results["first"] = handle.delivery_id
            holding.set()
            time.sleep(1.5)
            if ending == "rollback":
                transaction.set_rollback(True)
    finally:
        holding.set()
        connection.close()

def second():
    holding.wait()
    time.sleep(0.1)
    began = time.monotonic()
    try:
        with transaction.atomic():
            handle = Hello(name="second", to=["ann@example.com"]).enqueue(
                idempotency_key="receipt/7")
        results["second"] = [handle.delivery_id, handle.deduplicated,
                             time.monotonic() - began]
    finally:
        connection.close()

threads = [threading.Thread(target=first), threading.Thread(target=second)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(results))
"""


def wait_until_sent(cluster: Cluster, server, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while cluster.statuses() != {"sent": count} or len(server.received) < count:
        assert time.monotonic() < deadline, (
            f"not sent after {timeout} s: {dict(cluster.statuses())}\n{cluster.logs()}")
        time.sleep(0.2)
    time.sleep(1)  # a duplicate would arrive now


def test_fifty_concurrent_callers_with_one_key_make_one_row_and_one_message(
        smtp_server, cluster_factory):  # noqa: F811
    cluster = cluster_factory(smtp_server)
    cluster.start_worker()
    cluster.start_worker()
    results = json.loads(cluster.python(PRODUCE, CALLERS, timeout=240))

    errors = [r for r in results if not isinstance(r, list)]
    assert errors == []
    ids = {delivery_id for delivery_id, _key in results}
    assert len(ids) == 1  # every caller got the same delivery's handle
    assert sorted(key or "" for _id, key in results) == [""] + ["receipt/1042"] * (CALLERS - 1)
    wait_until_sent(cluster, smtp_server, 1)
    assert len(smtp_server.received) == 1
    assert cluster.query("SELECT id, duplicates FROM txmail_delivery") == [
        (ids.pop(), CALLERS - 1)]
    assert cluster.query("SELECT key FROM txmail_idempotencykey") == [("receipt/1042",)]


def test_a_second_caller_waits_for_the_first_and_gets_its_delivery(
        smtp_server, cluster_factory):  # noqa: F811
    cluster = cluster_factory(smtp_server)
    cluster.start_worker()
    results = json.loads(cluster.python(HOLD, "commit"))

    second_id, deduplicated, waited = results["second"]
    assert (second_id, deduplicated) == (results["first"], "receipt/7")
    assert waited > 0.8  # it waited for the first's transaction to end
    wait_until_sent(cluster, smtp_server, 1)
    assert [m.message["Subject"] for m in smtp_server.received] == ["Hello first"]


def test_a_second_caller_sends_when_the_first_rolls_back(smtp_server, cluster_factory):  # noqa: F811
    cluster = cluster_factory(smtp_server)
    cluster.start_worker()
    results = json.loads(cluster.python(HOLD, "rollback"))

    second_id, deduplicated, waited = results["second"]
    assert deduplicated is None  # (SQLite may give its row the rolled-back row's id)
    assert waited > 0.8
    wait_until_sent(cluster, smtp_server, 1)
    assert [m.message["Subject"] for m in smtp_server.received] == ["Hello second"]
    assert cluster.query("SELECT id, duplicates FROM txmail_delivery") == [(second_id, 0)]
