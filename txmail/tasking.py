"""What the delivery queue and the bulk chunks share about ``django.tasks``.

``configured()`` gives a task for a backend, queue and priority, raising a
``MessageConfigurationError`` that says the fix at once (in the caller, not in
a worker); ``Throttle`` lets a worker sweep in passing at most once an interval.
"""

import threading
import time
from datetime import datetime
from typing import Any

from django.tasks.exceptions import InvalidTask, InvalidTaskBackend

from .exceptions import MessageConfigurationError


def configured(task: Any, backend: str, queue_name: str, priority: int, *, owner: str = "",
               run_after: datetime | None = None, what: str = "queue") -> Any:
    """Return ``task`` configured for ``backend``, ``queue_name`` and ``priority``."""
    options: dict[str, Any] = {"backend": backend}
    if queue_name:
        options["queue_name"] = queue_name
    if priority:
        options["priority"] = priority
    if run_after is not None:
        options["run_after"] = run_after
    try:
        return task.using(**options)
    except (InvalidTask, InvalidTaskBackend) as exc:
        who = f"{owner}: " if owner else ""
        raise MessageConfigurationError(
            f"{who}can't {what} through task backend {backend!r} (queue {queue_name!r}, "
            f"priority {priority}): {str(exc).rstrip('.')}. Fix settings.TASKS or the "
            "class's DeliveryOptions (task_backend, queue_name, priority)."
        ) from exc


class Throttle:
    """True from ``due()`` at most once per ``interval`` seconds, across threads."""

    def __init__(self) -> None:
        # None, not 0.0: the monotonic clock starts near boot, so a worker on a
        # machine up for less than ``interval`` would otherwise wait that long.
        self._last: float | None = None
        self._lock = threading.Lock()

    def due(self, interval: float) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last < interval:
                return False
            self._last = now
            return True
