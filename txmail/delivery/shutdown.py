"""A worker told to stop (a deploy's SIGTERM) stops claiming work and hands the rest back.

django-tasks-db's ``db_worker`` takes SIGTERM, SIGINT and SIGQUIT as "finish
the current task, then exit" (it clears ``Worker.running`` and exits after the
task returns; a second signal exits at once). A txmail task may drain its
queue or a campaign chunk for a minute, longer than a deploy waits before
SIGKILL (``docker stop``: 10 s), so ``watch()`` adds one step in front of the
worker's own handler: it sets ``stopping``, then calls the handler that was
there. The lanes then take no new row, the drain claims nothing more, a chunk
writes no more batches, and what no mailer had yet goes back to the queue.

It is installed as a worker starts a task (the ``task_started`` signal), never
for ``ImmediateBackend``: that runs tasks in the caller (a request, a shell),
which is no worker, and where rows handed back would be run again at once.
"""

import os
import signal
import threading
import time
from typing import Any

from django.tasks.backends.immediate import ImmediateBackend

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGQUIT")
                if hasattr(signal, name))
# How long after the signal a lane still tries to record an outcome while the
# database is down (``bookkeeping``): well within the 10 s a deploy waits.
GRACE = 5.0

stopping = threading.Event()
_stopped_at = 0.0


def on_task_started(sender: Any, **kwargs: Any) -> None:
    """A worker starts a task: watch for the signals that stop it."""
    # The backend's class (ImmediateBackend) or the backend itself (db_worker).
    backend = sender if isinstance(sender, type) else type(sender)
    if not issubclass(backend, ImmediateBackend):
        watch()


def watch() -> None:
    """Set ``stopping`` when the process is asked to stop, then let the previous handler act.

    Signal handlers can only be set from the main thread, where ``db_worker``
    runs its tasks; elsewhere (a thread-pool worker) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in SIGNALS:
        previous = signal.getsignal(signum)
        if getattr(previous, "txmail_watch", False):
            continue  # ours already, in front of the worker's
        signal.signal(signum, _chained(previous))


def _chained(previous: Any) -> Any:
    def handler(signum: int, frame: Any) -> None:
        global _stopped_at
        if not stopping.is_set():
            _stopped_at = time.monotonic()
            stopping.set()
        if callable(previous):
            previous(signum, frame)  # db_worker's: finish this task, then exit
        elif previous in (signal.SIG_DFL, None):
            signal.signal(signum, signal.SIG_DFL)  # what the process would have done
            os.kill(os.getpid(), signum)

    handler.txmail_watch = True  # type: ignore[attr-defined]
    return handler


def grace_left() -> float | None:
    """Seconds left to finish what was started, or None while not stopping."""
    if not stopping.is_set():
        return None
    return max(GRACE - (time.monotonic() - _stopped_at), 0.0)
