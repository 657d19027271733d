"""The line of claimed rows that a worker's connections (lanes) take turns on.

Each lane takes the next row; when the line runs short, one lane fetches more
(claims rows, or a bulk chunk renders and stores its next batch) without
holding the lock, so the other lanes go on sending what is in the line, and
wait only if it runs empty before the fetch is done. Once ``stop()`` says so
(the worker is shutting down) no lane gets another row: ``take_all()`` returns
the rest, to hand back.
"""

import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any


class Line:
    """Rows for lanes; ``fetch()`` returns more rows, or None when there are none."""

    def __init__(self, rows: Iterable[Any], fetch: Callable[[], list[Any] | None] | None,
                 low_water: int, stop: Callable[[], bool] | None = None) -> None:
        self.rows = deque(rows)
        self.fetch = fetch  # cleared once it returns None (or raises)
        self.low_water = low_water
        self.stop = stop
        self.fetching = False
        self.lock = threading.Condition()

    def __len__(self) -> int:
        return len(self.rows)

    def next(self) -> Any:
        """Return the next row, or None when the line is done."""
        with self.lock:
            while True:
                if self.stop is not None and self.stop():
                    return None
                if self.fetch is not None and not self.fetching and (
                        len(self.rows) < self.low_water):
                    self._fetch(self.fetch)
                if self.rows:
                    return self.rows.popleft()
                if not self.fetching:
                    return None
                self.lock.wait()  # for the lane that is fetching

    def take_all(self) -> list[Any]:
        """Remove and return the rows no lane took."""
        with self.lock:
            rows = list(self.rows)
            self.rows.clear()
            return rows

    def _fetch(self, fetch: Callable[[], list[Any] | None]) -> None:
        # Entered and left with the lock held; fetch() runs without it.
        self.fetching = True
        self.lock.release()
        rows = None
        try:
            rows = fetch()
        finally:
            self.lock.acquire()
            self.fetching = False
            if rows is None:  # nothing more, or fetch() failed: no lane tries again
                self.fetch = None
            else:
                self.rows.extend(rows)
            self.lock.notify_all()
