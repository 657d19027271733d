"""Sent rows' outcomes, written a batch at a time: one transaction for many messages.

A worker used to write each sent message's outcome in a transaction of its own
(the row marked sent, its body dropped, the commit): a third of its CPU per
message. The hand-over stamp before the send is what the delivery guarantees
rest on (a worker killed after it never sends the message again), so it stays
one durable write per message; the outcome after the server's 250 can wait a
moment. ``Outcomes`` collects the sent rows of a ``send_claimed()`` call, from
all its lanes, and writes them together once ``MOST`` wait or the first has
waited ``WITHIN`` seconds (a thread of its own looks), and when the lanes end.
Where threads can't share the database (SQLite in memory, in tests) each is
written at once.

``message_sent`` goes out as each message is accepted (the mailer has it: that
is what the signal says), before its row is written.

A worker killed before the write leaves those rows stamped and claimed: the
sweep ends them ``unknown``, as it does a message killed between the 250 and
its write today, never sent twice. So a class that sends again when the outcome
is unknown (``resend_if_unknown``) has its outcome written at once, as do rows
with recipients refused for now (their follow-up row is written with it).
While a row waits here the heartbeat keeps its claim fresh.
"""

import logging
import threading
import time
from typing import Any

from django.db import connections, router, transaction

from . import heartbeat, log, rows
from .bookkeeping import retrying
from .models import Delivery

logger = logging.getLogger("txmail.delivery")

MOST = 100  # rows written in one transaction, at most
WITHIN = 0.25  # seconds the first of them waits, at most


class Outcomes:
    """The sent rows of one ``send_claimed()`` whose outcome is still to be written.

    Used as a context manager: its writer thread runs within, and what waits is
    written on the way out.
    """

    def __init__(self, *, batched: bool = True) -> None:
        self.waiting: list[tuple[Delivery, str, dict[str, Any]]] = []
        self.since = 0.0
        self.lock = threading.Lock()
        self.batched = batched
        self.done = threading.Event()
        self.writer: threading.Thread | None = None

    def __enter__(self) -> "Outcomes":
        if self.batched:
            self.writer = threading.Thread(target=self._write_when_due, daemon=True,
                                           name="txmail-outcomes")
            self.writer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.done.set()
        if self.writer is not None:
            self.writer.join()
        self.write()

    def _write_when_due(self) -> None:
        try:
            while not self.done.wait(WITHIN / 2):
                if self.due():
                    self.write()
        finally:
            connections.close_all()  # this thread's own

    def __len__(self) -> int:
        return len(self.waiting)

    def add(self, row: Delivery, sent: Any, token: str, email: Any) -> None:
        """Announce ``row`` sent now; write its outcome with the next batch."""
        fields = log.sent_fields(row, sent)
        heartbeat.hold([(row.pk, token)])
        with self.lock:
            if not self.waiting:
                self.since = time.monotonic()
            self.waiting.append((row, token, fields))
        # Copies of the fields: the row in memory says what the database will.
        log.announce_sent(row, dict(fields), sent, email)
        if not self.batched or len(self.waiting) >= MOST:
            self.write()

    def due(self) -> bool:
        """Whether the waiting outcomes should be written now."""
        return bool(self.waiting) and (
            len(self.waiting) >= MOST or time.monotonic() - self.since >= WITHIN)

    def write(self) -> None:
        """Write every waiting outcome in one transaction (retried through an outage).

        An error is logged, not raised: the rows stay claimed and the sweep ends
        them ``unknown`` (a lane must not stop for its bookkeeping).
        """
        with self.lock:
            batch, self.waiting = self.waiting, []
        if not batch:
            return
        try:
            retrying(_write, batch)
        except Exception:
            logger.exception("txmail: could not record %d sent messages; the sweep ends "
                             "them unknown", len(batch))
        finally:
            heartbeat.release([(row.pk, token) for row, token, _fields in batch])


def _write(batch: list[tuple[Delivery, str, dict[str, Any]]]) -> None:
    changes = []
    for row, token, fields in batch:
        values = dict(fields)
        values.pop("raw", None)
        changes.append((row.pk, token, values))
    with transaction.atomic(using=router.db_for_write(Delivery)):
        updated = set(rows.update_each(changes))
        rows.drop_bodies([row.pk for row, _token, fields in batch
                          if row.pk in updated and "raw" in fields])
