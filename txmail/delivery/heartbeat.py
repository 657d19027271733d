"""Keep a slow send's claim fresh, so the sweep never takes it for a dead worker.

``send_row()`` stamps ``handed_over_at`` as the mailer gets a message; the sweep
reads a stamp older than ``CLAIM_TIMEOUT`` as "the worker died while the mailer
had it" and ends the row ``unknown`` (or sends it again). A send that is merely
slow (a large attachment on a slow link, a server that takes its time) must not
look like that, so while a message is with the mailer (or its outcome waits
for the database to come back: ``bookkeeping``) it is listed here, and
one thread per process renews the stamps of sends older than a third of the
timeout. Fast sends (nearly all) never touch the database from here.

A send is renewed for at most ``RENEW_FOR`` claim timeouts (15 minutes by
default), and the sweep ends it a claim timeout later: a mailer with no timeout
can wait forever on a dead connection, and that row must still end.
"""

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import InterfaceError, OperationalError, connections
from django.utils import timezone

from ..conf import txmail_settings
from .models import Delivery, Status

logger = logging.getLogger("txmail.delivery")

RENEW_FOR = 3  # claim timeouts a send is kept claimed for, at most

_sending: dict[tuple[int, str], float] = {}  # (row id, claim token) → monotonic start
_lock = threading.Lock()
_wake = threading.Event()
_thread: threading.Thread | None = None


def _forget_after_fork() -> None:
    """A forked child has none of its parent's sends, nor its thread."""
    global _lock, _thread
    _sending.clear()
    _lock = threading.Lock()
    _thread = None


os.register_at_fork(after_in_child=_forget_after_fork)


@contextmanager
def with_mailer(pk: int, token: str) -> Iterator[None]:
    """While the block runs (the mailer has row ``pk``), keep its claim renewed."""
    key = (pk, token)
    hold([key])
    try:
        yield
    finally:
        release([key])


def hold(keys: list[tuple[int, str]]) -> None:
    """Keep the claims ``keys`` (row id, claim token) renewed until ``release()``."""
    now = time.monotonic()
    with _lock:
        for key in keys:
            _sending[key] = now
        _start()


def release(keys: list[tuple[int, str]]) -> None:
    """Stop renewing the claims ``keys``."""
    with _lock:
        for key in keys:
            _sending.pop(key, None)


def _start() -> None:
    global _thread
    if _thread is None or not _thread.is_alive():
        _thread = threading.Thread(target=_renew_forever, name="txmail-heartbeat", daemon=True)
        _thread.start()


def _renew_forever() -> None:
    while True:
        timeout = float(txmail_settings.CLAIM_TIMEOUT)
        interval = timeout / 3
        _wake.wait(min(interval, 1.0))
        _wake.clear()
        now = time.monotonic()
        with _lock:
            slow = [key for key, started in _sending.items()
                    if interval <= now - started < timeout * RENEW_FOR]
        if slow:
            try:
                renew(slow)
            except (OperationalError, InterfaceError) as exc:  # an outage: one line a round
                logger.warning("txmail: could not renew the claims of slow sends (%s)", exc)
            except Exception:  # the next round tries again; the send goes on regardless
                logger.exception("txmail: could not renew the claims of slow sends")
            finally:
                connections.close_all()  # this thread's own connections


def renew(keys: list[tuple[int, str]]) -> int:
    """Stamp ``handed_over_at`` (and ``claimed_at``) of the claims ``keys`` with now."""
    now = timezone.now()
    renewed = 0
    for pk, token in keys:
        renewed += Delivery.objects.filter(
            pk=pk, claim_token=token, status=Status.SENDING,
        ).update(handed_over_at=now, claimed_at=now)
    return renewed
