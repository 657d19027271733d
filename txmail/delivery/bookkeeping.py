"""A worker's bookkeeping writes outlast a database outage (a restart, a failover).

Once the server has answered 250 the message is sent, whatever happens to the
database next. If the write that records it fails on a lost connection
(``OperationalError``, ``InterfaceError``), ``retrying()`` closes the thread's
connection (Django reconnects only between requests, and a lane is one long
request: without this it would fail every row after) and tries again with
backoff, for at most ``RETRY_FOR`` claim timeouts, keeping the outcome in
memory meanwhile. The claim stays with the heartbeat, so that once the
database is back the row is renewed even before the write goes through.

Two claim timeouts: a restart takes seconds and a managed failover one or
two minutes, well under the default's ten; past that the lane gives up (the
row then ends ``unknown`` through the sweep, as if the worker had died) rather
than hold a worker forever. A stopping worker tries only for its shutdown grace.

The sweep loops (``maybe_sweep()``, ``sweep --every``) ask ``settled()``
before they judge claims: a worker that was retrying through an outage must
get a claim timeout with the database back to renew or record its rows.
"""

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import Error, InterfaceError, OperationalError, connections

from ..conf import txmail_settings
from . import heartbeat, log, shutdown

logger = logging.getLogger("txmail.delivery")

RETRY_FOR = 2  # claim timeouts
FIRST_PAUSE = 0.1
MAX_PAUSE = 2.0
LOST = (OperationalError, InterfaceError)

# When this process last saw the database unreachable (monotonic); its start
# counts as one: it can't know what its peers went through before it.
_last_outage = time.monotonic()
_outages = 0
_lock = threading.Lock()


def retrying[T](write: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Return ``write(*args, **kwargs)``, tried again while the database is unreachable."""
    deadline: float | None = None
    pause = FIRST_PAUSE
    while True:
        try:
            return write(*args, **kwargs)
        except LOST as exc:
            if any(c.in_atomic_block for c in connections.all(initialized_only=True)):
                raise  # a broken transaction can't go on: its owner starts again
            saw_outage()
            now = time.monotonic()
            if deadline is None:
                deadline = now + RETRY_FOR * float(txmail_settings.CLAIM_TIMEOUT)
                logger.warning("txmail: the database is unreachable (%s); trying again "
                               "for up to %.0f s.", exc, deadline - now)
            grace = shutdown.grace_left()
            if grace is not None:
                deadline = min(deadline, now + grace)
            if now + pause > deadline:
                raise
            time.sleep(pause * random.uniform(0.5, 1.0))
            pause = min(pause * 2, MAX_PAUSE)


def after_hand_over[T](write: Callable[..., T], row: Any, *args: Any, **kwargs: Any) -> T:
    """``retrying(write, row, ...)`` with the row's claim kept fresh by the heartbeat."""
    token = kwargs.get("token")
    if not token:
        return retrying(write, row, *args, **kwargs)
    with heartbeat.with_mailer(row.pk, token):
        return retrying(write, row, *args, **kwargs)


# The outcomes the queue records, each kept until the database takes it.
def mark_sent(row: Any, *args: Any, **kwargs: Any) -> bool:
    return after_hand_over(log.mark_sent, row, *args, **kwargs)


def mark_failed(row: Any, *args: Any, **kwargs: Any) -> None:
    return after_hand_over(log.mark_failed, row, *args, **kwargs)


def mark_suppressed(row: Any, *args: Any, **kwargs: Any) -> None:
    return after_hand_over(log.mark_suppressed, row, *args, **kwargs)


def mark_waiting(row: Any, *args: Any, **kwargs: Any) -> bool:
    return after_hand_over(log.mark_waiting, row, *args, **kwargs)


def sweep_in_passing(throttle: Any, sweep: Callable[..., Any], what: str) -> None:
    """Run ``sweep(claims=...)`` from a worker when ``throttle`` says it is due.

    A database outage is logged and waited out (the next sweep tries again);
    any other error is logged: sweeping in passing must never stop a worker.
    """
    if not throttle.due(float(txmail_settings.CLAIM_TIMEOUT) / 2):
        return
    try:
        sweep(claims=settled())
    except LOST as exc:
        saw_outage()
        logger.warning("txmail: the %s sweep could not reach the database (%s)", what, exc)
    except Exception:
        logger.exception("txmail: the %s sweep failed", what)


def saw_outage() -> None:
    """Note that the database was unreachable just now; drop this thread's connections."""
    global _last_outage, _outages
    with _lock:
        _last_outage = time.monotonic()
        _outages += 1
    drop_connections()


def drop_connections() -> None:
    """Close this thread's connections (outside a transaction): the next query reconnects."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            try:
                connection.close()
            except Error:  # closing a dead connection may fail: it is gone either way
                pass


def outages() -> int:
    """How many times this process saw the database unreachable."""
    return _outages


def settled() -> bool:
    """Whether the database has answered this process for a whole ``CLAIM_TIMEOUT``.

    Until then a claim that looks stale may belong to a live worker that could
    not renew it: only a sweep run by hand (or cron) judges it anyway.
    """
    return time.monotonic() - _last_outage >= float(txmail_settings.CLAIM_TIMEOUT)
