"""Queued delivery under injected faults, with real worker processes (issue #9).

Real ``db_worker`` processes (django-tasks-db) share a database with a
producer process and send to ``tests.faulty_smtp``, which refuses, drops and
stalls a tenth of what it sees. Each cluster test runs on a file SQLite
database (WAL, claims by conditional UPDATE) and on a PostgreSQL server of its
own (row locks, ``select_for_update(skip_locked=True)`` in django-tasks-db).
The test counts what the server accepted and checks the delivery log against
it: nothing sent twice, nothing lost, every message that wasn't sent explained.
"""

import json
import os
import signal
import smtplib
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.faulty_smtp import (
    CONNECTION_FAULTS,
    FAULTS,
    MESSAGE_FAULTS,
    FaultySMTPServer,
    message_id_of,
    spread,
)
from tests.processes import logs_of, migrated_template
from tests.smtp import free_port
from tests.testapp.emails import Hello
from txmail import DeliveryOptions
from txmail.delivery import queue
from txmail.delivery.models import Delivery, Status
from txmail.exceptions import PermanentDeliveryError, TransientDeliveryError

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

ROOT = Path(__file__).resolve().parent.parent
SMTP_TIMEOUT = 1.0  # the workers' mailers; stalls last longer
FINAL = {"sent", "failed", "unknown"}
AMBIGUOUS = {"drop_mid_data", "drop_after_dot", "stall_after_data"}
# A tenth of the messages meet a fault, spread over every kind; and one
# connection in ten is refused or stalled at the greeting (workers keep their
# connections open for a batch, so there are far fewer connections than messages).
RATES = {**spread(0.10, MESSAGE_FAULTS), **spread(0.10, CONNECTION_FAULTS)}

PRODUCE = """
import sys
from django.db import transaction
from tests.testapp.emails import Hello
first, count = int(sys.argv[1]), int(sys.argv[2])
for start in range(first, first + count, 100):
    with transaction.atomic():  # committed a hundred at a time, like a busy app
        for i in range(start, min(first + count, start + 100)):
            Hello(name=f"n{i}", to=[f"user{i}@example.com"]).enqueue()
"""


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory):
    """A migrated database file, copied for each test (migrating takes a while)."""
    directory = tmp_path_factory.mktemp("txmail-db")
    return migrated_template(directory, lambda path: worker_env(path, port=9))


def worker_env(db: Path, *, port: int, **txmail: object) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
        "TXMAIL_TEST_DB": str(db),
        "TXMAIL_TEST_SMTP_PORT": str(port),
        "TXMAIL_TEST_SMTP_TIMEOUT": str(SMTP_TIMEOUT),
        "TXMAIL_TEST_TXMAIL": json.dumps(txmail),
    }


class Cluster:
    """A database, worker processes on it, and Django code run against it.

    ``template`` is a migrated SQLite file copied for this cluster; ``pg`` a
    PostgreSQL server (``tests/postgres.py``) migrated here instead.
    """

    def __init__(self, tmp_path: Path, template: Path | None, port: int, *,
                 pg: object = None, **txmail: object) -> None:
        self.dir = tmp_path
        self.db = tmp_path / "db.sqlite3"
        self.pg = pg
        self.env = worker_env(self.db, port=port, **txmail)
        if pg is not None:
            self.env.update(pg.settings(), DJANGO_SETTINGS_MODULE="tests.pg_worker_settings")
            subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], check=True,
                           env=self.env, cwd=ROOT, timeout=120)
        else:
            assert template is not None
            self.db.write_bytes(template.read_bytes())
        self.workers: dict[str, subprocess.Popen] = {}
        self.background: list[subprocess.Popen] = []
        self.started = 0

    def python(self, code: str, *args: object, timeout: float = 180) -> str:
        """Run ``code`` with Django set up on this database; return its output."""
        done = subprocess.run(
            [sys.executable, "-c", "import django\ndjango.setup()\n" + code, *map(str, args)],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def spawn(self, args: list[str], name: str) -> subprocess.Popen:
        """Start ``python ARGS`` in the background (stopped at teardown)."""
        with open(self.dir / f"{name}.log", "ab") as log:
            process = subprocess.Popen([sys.executable, *args], env=self.env, cwd=ROOT,
                                       stdout=log, stderr=subprocess.STDOUT)
        self.background.append(process)
        return process

    def start_sweeper(self, every: float) -> subprocess.Popen:
        """What production runs next to its workers: ``manage.py txmail sweep --every N``."""
        if (ROOT / "txmail" / "management" / "commands" / "txmail.py").exists():
            return self.spawn(["-m", "django", "txmail", "sweep", "--every", str(every)],
                              "sweeper")
        # Before the command exists: the same loop.
        return self.spawn(["-c", "import time, django\ndjango.setup()\n"
                           "from txmail.delivery.queue import sweep\n"
                           f"while True:\n    sweep()\n    time.sleep({every})\n"], "sweeper")

    def start_worker(self) -> str:
        self.started += 1
        name = f"worker{self.started}"
        with open(self.dir / f"{name}.log", "wb") as log:
            self.workers[name] = subprocess.Popen(
                [sys.executable, "-m", "django", "db_worker", "--interval", "0.1",
                 "--no-startup-delay", "--no-reload", "--worker-id", name],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        return name

    def kill_worker(self, name: str) -> None:
        process = self.workers.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        processes = [*self.workers.values(), *self.background]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for process in processes:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workers.clear()
        self.background.clear()

    def logs(self) -> str:
        return logs_of(self.dir)

    def query(self, sql: str, *params: object) -> list[tuple]:
        # Outside Django: the test's own database is another one.
        if self.pg is not None:
            import psycopg

            with psycopg.connect(host="127.0.0.1", port=self.pg.port, user="postgres",
                                 dbname="postgres", connect_timeout=5) as conn:
                return conn.execute(sql.replace("?", "%s"), params).fetchall()
        with closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=60)) as db:
            return db.execute(sql, params).fetchall()

    def statuses(self) -> Counter:
        return Counter(dict(self.query(
            "SELECT status, COUNT(*) FROM txmail_delivery GROUP BY status")))

    def wait_until_final(self, count: int, timeout: float, *, during=None) -> None:
        """Wait until ``count`` rows exist and every one is final."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.statuses()
            if sum(statuses.values()) >= count and set(statuses) <= FINAL:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"Not final after {timeout} s: {dict(statuses)}\n{self.logs()}")
            if during is not None:
                during(statuses)
            time.sleep(0.3)

    def rows(self) -> list[dict]:
        names = ["id", "status", "recipients", "message_id", "attempts", "last_error"]
        rows = [dict(zip(names, row, strict=True)) for row in self.query(
            f"SELECT {', '.join(names)} FROM txmail_delivery ORDER BY id")]
        for row in rows:  # JSON text on SQLite, decoded already by psycopg
            if not isinstance(row["recipients"], str):
                row["recipients"] = json.dumps(row["recipients"])
        return rows

    def tasks(self) -> Counter:
        return Counter(dict(self.query(
            "SELECT status, COUNT(*) FROM django_tasks_database_dbtaskresult GROUP BY status")))


@pytest.fixture(params=["sqlite", "postgresql"])
def cluster_factory(request, tmp_path):
    clusters: list[Cluster] = []
    if request.param == "postgresql":
        pg, template = request.getfixturevalue("postgresql"), None
    else:
        pg, template = None, request.getfixturevalue("migrated_db")

    def make(server, **txmail: object) -> Cluster:
        cluster = Cluster(tmp_path, template, server.port, pg=pg, **txmail)
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        cluster.stop()


@pytest.fixture
def faulty_server():
    """A fault-injecting SMTP server (rates given by the test); stopped at teardown."""
    servers: list[FaultySMTPServer] = []

    def start(**options: object) -> FaultySMTPServer:
        server = FaultySMTPServer(stall=SMTP_TIMEOUT + 0.5, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def check_log_against_server(rows: list[dict], server: FaultySMTPServer, *,
                             killed: bool = False) -> Counter:
    """Assert nothing was duplicated or lost; return the count of rows by status."""
    arrived = server.plan.by_message_id
    injected = server.plan.injected
    faults_by_rcpt: dict[str, set[str]] = {}
    faults_by_id: dict[str, set[str]] = {}
    for fault in injected:
        for rcpt in fault.rcpt_tos:
            faults_by_rcpt.setdefault(rcpt.lower(), set()).add(fault.fault)
        if fault.message_id:
            faults_by_id.setdefault(fault.message_id, set()).add(fault.fault)

    duplicates = {mid: n for mid, n in arrived.items() if n > 1}
    assert duplicates == {}
    assert set(arrived) <= {row["message_id"] for row in rows}  # nothing from nowhere
    by_status = Counter(row["status"] for row in rows)
    assert set(by_status) <= FINAL, by_status
    for row in rows:
        [rcpt] = json.loads(row["recipients"])
        faults = faults_by_rcpt.get(rcpt, set()) | faults_by_id.get(row["message_id"], set())
        if row["status"] == "sent":
            assert arrived[row["message_id"]] == 1, row
        elif row["status"] == "failed":
            # Refused for good, or out of attempts.
            permanent = "550" in row["last_error"] and faults & {"rcpt_550", "data_550"}
            exhausted = row["last_error"].startswith("gave up after")
            assert permanent or exhausted, (row, faults)
        else:
            assert arrived[row["message_id"]] <= 1, row
            # The connection went in the ambiguous window, or (killed workers)
            # the sweep found the worker gone while the mailer had it.
            swept = killed and row["last_error"].startswith("The worker stopped while")
            assert faults & AMBIGUOUS or swept, (row, faults)
    return by_status


def summary(title: str, started: float, cluster: Cluster, by_status: Counter,
            server: FaultySMTPServer, **extra: object) -> None:
    print(f"\n{title}: {time.monotonic() - started:.1f} s; rows by status {dict(by_status)}; "
          f"accepted by the server {len(server.received)}; faults injected "
          f"{dict(sorted(server.plan.counts().items()))}; tasks {dict(cluster.tasks())}"
          + "".join(f"; {k} {v}" for k, v in extra.items()))


def test_thousands_of_messages_through_faults_none_twice_none_lost(faulty_server,
                                                                  cluster_factory):
    count = 2000
    server = faulty_server(rates=RATES, seed=9)
    cluster = cluster_factory(server, CLAIM_TIMEOUT=15, BATCH_SIZE=20, CONNECTIONS=2)
    started = time.monotonic()
    cluster.start_worker()
    cluster.start_worker()
    cluster.python(PRODUCE, 0, count)
    cluster.wait_until_final(count, timeout=240)

    rows = cluster.rows()
    assert len(rows) == count
    by_status = check_log_against_server(rows, server)
    summary("faults", started, cluster, by_status, server)
    unknown_arrived = sum(1 for row in rows if row["status"] == "unknown"
                          and server.plan.by_message_id[row["message_id"]])
    assert len(server.received) == by_status["sent"] + unknown_arrived
    assert set(server.plan.counts()) == set(FAULTS)  # every kind of fault was met


def test_workers_killed_mid_batch_and_restarted_none_twice_none_lost(faulty_server,
                                                                   cluster_factory):
    count = 2000
    server = faulty_server(rates=RATES, seed=11)
    cluster = cluster_factory(server, CLAIM_TIMEOUT=6, BATCH_SIZE=20, CONNECTIONS=2)
    started = time.monotonic()
    cluster.start_worker()
    cluster.start_worker()
    cluster.start_sweeper(every=2)
    producer = cluster.spawn(["-c", "import django\ndjango.setup()\n" + PRODUCE, "0", str(count)],
                             "producer")
    kills: list[int] = []
    # A kill at each tenth, three tenths, ... of the messages done: spread over the
    # run by its progress, not by the clock (a fast database finishes early).
    at = [count * share // 10 for share in (1, 3, 5, 7)]

    def kill_one_mid_batch(statuses: Counter) -> None:
        done = sum(statuses[s] for s in FINAL)
        if len(kills) >= len(at) or done < at[len(kills)] or not statuses["sending"]:
            return
        # Rows are being sent: kill the oldest worker (SIGKILL: no cleanup at all).
        kills.append(statuses["sending"])
        cluster.kill_worker(next(iter(cluster.workers)))
        cluster.start_worker()

    cluster.wait_until_final(count, timeout=300, during=kill_one_mid_batch)
    assert producer.wait(60) == 0
    assert len(kills) == 4, kills

    rows = cluster.rows()
    assert len(rows) == count
    by_status = check_log_against_server(rows, server, killed=True)
    swept = sum(1 for row in rows if row["last_error"].startswith("The worker stopped"))
    summary("kills", started, cluster, by_status, server,
            **{"rows being sent at each kill": kills, "unknown after the sweep": swept})


def test_rollback_sends_nothing_commit_sends_once(faulty_server, cluster_factory):
    server = faulty_server()
    cluster = cluster_factory(server)
    cluster.python(
        "from django.db import transaction\n"
        "from tests.testapp.emails import Hello\n"
        "with transaction.atomic():\n"
        "    Hello(name='rolled back', to=['gone@example.com']).enqueue().delivery\n"
        "    transaction.set_rollback(True)\n"
        "with transaction.atomic():\n"
        "    Hello(name='committed', to=['kept@example.com']).enqueue().delivery\n"
    )
    cluster.start_worker()
    cluster.wait_until_final(1, timeout=60)

    assert [(r["status"], r["recipients"]) for r in cluster.rows()] == [
        ("sent", '["kept@example.com"]')]
    assert [(m.rcpt_tos, m.message["Subject"]) for m in server.received] == [
        (["kept@example.com"], "Hello committed")]
    assert cluster.tasks() == {"SUCCESSFUL": 1}


def test_a_deleted_row_leaves_its_queues_task_nothing_to_do(faulty_server, cluster_factory):
    server = faulty_server()
    cluster = cluster_factory(server)
    cluster.python(
        "from tests.testapp.emails import Hello\n"
        "from txmail.delivery.models import Delivery\n"
        "Hello(name='deleted').enqueue()\n"
        "Delivery.objects.all().delete()\n"
    )
    cluster.start_worker()
    deadline = time.monotonic() + 60
    while cluster.tasks() != {"SUCCESSFUL": 1}:
        assert time.monotonic() < deadline, (cluster.tasks(), cluster.logs())
        time.sleep(0.2)
    time.sleep(1)  # long enough for a retry loop to show
    assert cluster.tasks() == {"SUCCESSFUL": 1}
    assert server.received == []


def test_row_deleted_before_its_task_ran_fails_the_task_once(faulty_server, cluster_factory):
    # A row due later has a task of its own (deliver_queued), deferred to its time.
    server = faulty_server()
    cluster = cluster_factory(server)
    cluster.python(
        "from datetime import timedelta\n"
        "from tests.testapp.emails import Hello\n"
        "from txmail.delivery.models import Delivery\n"
        "Hello(name='deleted').enqueue(delay=timedelta(seconds=1))\n"
        "Delivery.objects.all().delete()\n"
    )
    [(args_kwargs,)] = cluster.query(
        "SELECT args_kwargs FROM django_tasks_database_dbtaskresult")
    if isinstance(args_kwargs, str):  # JSON text on SQLite, decoded already by psycopg
        args_kwargs = json.loads(args_kwargs)
    delivery_id = args_kwargs["args"][0]
    cluster.start_worker()
    deadline = time.monotonic() + 60
    while cluster.tasks() != {"FAILED": 1}:
        assert time.monotonic() < deadline, (cluster.tasks(), cluster.logs())
        time.sleep(0.2)
    time.sleep(1)  # long enough for a retry loop to show

    [(exception, traceback)] = cluster.query(
        "SELECT exception_class_path, traceback FROM django_tasks_database_dbtaskresult")
    assert exception == "txmail.exceptions.DeliveryNotFound"
    assert traceback.rstrip().endswith(
        f"txmail.exceptions.DeliveryNotFound: Delivery {delivery_id} does not exist: it was "
        "deleted before its task ran, so nothing was sent. Send the message again if it is "
        "still wanted.")
    assert cluster.tasks() == {"FAILED": 1}
    assert server.received == []


def test_partial_refusal_through_a_real_server(faulty_server):
    server = faulty_server(refuse=("bob@example.com",))
    with override_settings(MAILERS={"transactional": server.mailer()}):
        sent = Hello(to=["ann@example.com", "bob@example.com"]).send()

    assert sent.recipients == ["ann@example.com"]
    assert sent.refused == {"bob@example.com": (550, "5.1.1 <bob@example.com>: no such user")}
    [received] = server.received
    assert received.rcpt_tos == ["ann@example.com"]
    row = Delivery.objects.get(pk=sent.delivery_id)
    assert (row.status, row.refused, row.last_error) == (
        Status.SENT, {"bob@example.com": [550, "5.1.1 <bob@example.com>: no such user"]},
        "Refused by the server: bob@example.com: 550 5.1.1 <bob@example.com>: no such user")


def test_recipients_beyond_the_servers_rcpt_cap_are_refused(faulty_server):
    server = faulty_server(rcpt_cap=100)
    to = [f"r{i}@example.com" for i in range(251)]
    with override_settings(MAILERS={"transactional": server.mailer()}):
        sent = Hello(to=to).send()

    assert sent.recipients == to[:100]
    assert sent.refused == {a: (452, "4.5.3 Too many recipients") for a in to[100:]}
    assert len(sent.refused) == 151
    [received] = server.received
    assert received.rcpt_tos == to[:100]
    assert Delivery.objects.get(pk=sent.delivery_id).refused == {
        a: [452, "4.5.3 Too many recipients"] for a in to[100:]}


def test_a_reply_to_the_end_of_data_is_not_an_unknown_outcome(faulty_server):
    """451 or 550 after the final "." is an answer: retry or fail, never "unknown"."""
    for fault, error, verdict, reply, advice in [
        ("data_451", TransientDeliveryError, "could not send the message for now",
         "451 4.3.0 Temporary failure after DATA (injected)",
         "txmail retries queued messages; check that the server is up and reachable."),
        ("data_550", PermanentDeliveryError, "refused the message",
         "550 5.7.1 Message rejected as spam (injected)",
         "Sending it again won't help; fix the address or the message."),
    ]:
        server = faulty_server(rates={fault: 1.0})
        with override_settings(MAILERS={"transactional": server.mailer()}):
            with pytest.raises(error) as raised:
                Hello().send()
        assert type(raised.value) is error, fault
        cause = raised.value.__cause__
        assert isinstance(cause, smtplib.SMTPDataError), fault
        assert f"{cause.smtp_code} {cause.smtp_error.decode()}" == reply
        # The wording of the server's reply inside the message is errors.py's
        # business; what this test owns is the verdict, the mailer and the advice.
        message = str(raised.value)
        assert message.startswith(
            f"mailer 'transactional' (127.0.0.1:{server.port}) {verdict} (SMTPDataError: ")
        assert message.endswith(f"). {advice}"), message
        assert Delivery.objects.latest("pk").status == Status.FAILED


def test_connection_refused_names_the_mailer_and_the_address():
    port = free_port()  # nothing listens there
    mailer = {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
              "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 2}}
    with override_settings(MAILERS={"transactional": mailer}):
        with pytest.raises(TransientDeliveryError) as raised:
            Hello().send()

    assert str(raised.value) == (
        f"mailer 'transactional' (127.0.0.1:{port}) could not send the message for now "
        "(ConnectionRefusedError: [Errno 111] Connection refused). txmail retries queued "
        "messages; check that the server is up and reachable.")
    assert type(raised.value.__cause__) is ConnectionRefusedError
    assert (raised.value.alias, raised.value.host) == ("transactional", f"127.0.0.1:{port}")
    assert Delivery.objects.get().status == Status.FAILED


def test_smtplib_sees_each_injected_fault_as_a_real_server_would(faulty_server):
    """The fault server itself: each fault, alone, seen from smtplib."""
    raw = b"From: a@example.com\r\nMessage-ID: <1@example.com>\r\n\r\nbody\r\n"
    expected = {
        "greeting_421": smtplib.SMTPConnectError,
        "greeting_stall": smtplib.SMTPServerDisconnected,
        "mail_421": smtplib.SMTPSenderRefused,
        "rcpt_451": smtplib.SMTPRecipientsRefused,
        "rcpt_550": smtplib.SMTPRecipientsRefused,
        "drop_before_data": smtplib.SMTPServerDisconnected,
        "drop_mid_data": smtplib.SMTPServerDisconnected,
        "data_451": smtplib.SMTPDataError,
        "data_550": smtplib.SMTPDataError,
        "drop_after_dot": smtplib.SMTPServerDisconnected,
        "stall_after_data": smtplib.SMTPServerDisconnected,
    }
    assert set(expected) == set(FAULTS)
    for fault, error in expected.items():
        server = faulty_server(rates={fault: 1.0})
        with pytest.raises(error):
            with smtplib.SMTP("127.0.0.1", server.port, timeout=SMTP_TIMEOUT) as client:
                client.sendmail("a@example.com", ["b@example.com"], raw)
        assert dict(server.plan.counts()) == {fault: 1}, fault
        # Only a message dropped after its final "." is kept: the server may have queued it.
        kept = {"<1@example.com>": 1} if fault == "drop_after_dot" else {}
        assert dict(server.plan.by_message_id) == kept, fault


def test_the_fault_server_runs_as_its_own_process(tmp_path):
    port, record = free_port(), tmp_path / "accepted.jsonl"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.faulty_smtp", "--port", str(port), "--rates",
         "rcpt_550=0", "--refuse", "bob@example.com", "--record", str(record)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        assert server.stdout.readline() == f"faulty SMTP server on 127.0.0.1:{port}\n"
        raw = b"From: a@example.com\r\nMessage-ID: <2@example.com>\r\n\r\nbody\r\n"
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            refused = client.sendmail("a@example.com", ["ann@example.com", "bob@example.com"],
                                      raw)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)

    assert refused == {"bob@example.com": (550, b"5.1.1 <bob@example.com>: no such user")}
    assert json.loads(output) == {"accepted": 1, "faults": {}}
    assert [json.loads(line) for line in record.read_text().splitlines()] == [
        {"message_id": "<2@example.com>", "mail_from": "a@example.com",
         "rcpt_tos": ["ann@example.com"], "size": len(raw)}]


class ResendingHello(Hello):
    delivery_options = DeliveryOptions(resend_if_unknown=True)


def test_a_drop_after_the_dot_is_sent_again_the_same_bytes_if_the_class_asks(
        faulty_server, django_capture_on_commit_callbacks):
    """resend_if_unknown: the ambiguous window retries the stored bytes, not a new message."""
    server = faulty_server(rates={"drop_after_dot": 1.0})
    plain, resending = Hello(), ResendingHello()
    with override_settings(MAILERS={"transactional": server.mailer()}):
        with django_capture_on_commit_callbacks(execute=False):
            rows = [plain.enqueue().delivery, resending.enqueue().delivery]
        assert queue.run(rows[0].pk) == {"unknown": 1, "retrying": 1}
        server.plan.rates.clear()
        Delivery.objects.filter(pk=rows[1].pk).update(next_attempt_at=timezone.now())
        assert queue.run(rows[1].pk) == {"sent": 1}
    for row in rows:
        row.refresh_from_db()
    assert [(r.status, r.attempts) for r in rows] == [(Status.UNKNOWN, 1), (Status.SENT, 2)]
    # The server kept both copies of the resent one: byte for byte the same.
    first, second = (r.data for r in server.received
                     if message_id_of(r.data) == rows[1].message_id)
    assert first == second
