"""The line of claimed rows that a worker's connections (lanes) take turns on.

Each lane takes the next row; when the line runs short, one lane fetches more
(claims rows, or a bulk chunk renders and stores its next batch) without
holding the lock, so the other lanes go on sending what is in the line, and
wait only if it runs empty before the fetch is done. Once ``stop()`` says so
(the worker is shutting down) no lane gets another row: ``take_all()`` returns
the rest, to hand back.

``jump()`` (if given) is asked at most every ``jump_every`` seconds, as a lane
takes its next row, for rows that go before the rest of the line (a password
reset while a campaign is being sent): they wait at its front, so the next
free lane sends them, over the connections already open. It is not asked while
``low_water`` or more of them still wait: it claims no more than the lanes send.
"""

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any


class Line:
    """Rows for lanes; ``fetch()`` returns more rows, or None when there are none."""

    def __init__(self, rows: Iterable[Any], fetch: Callable[[], list[Any] | None] | None,
                 low_water: int, stop: Callable[[], bool] | None = None,
                 jump: Callable[[], list[Any]] | None = None, jump_every: float = 0.5) -> None:
        self.rows = deque(rows)
        self.front: deque[Any] = deque()  # rows from jump(), taken first
        self.fetch = fetch  # cleared once it returns None (or raises)
        self.low_water = low_water
        self.stop = stop
        self.fetching = False
        self.jump = jump  # cleared if it raises
        self.jump_every = jump_every
        self.jumping = False
        # Not at once: the line's own rows were the most urgent a moment ago.
        self.jump_at = time.monotonic() + jump_every
        self.lock = threading.Condition()

    def __len__(self) -> int:
        return len(self.front) + len(self.rows)

    def next(self) -> Any:
        """Return the next row, or None when the line is done."""
        with self.lock:
            while True:
                if self.stop is not None and self.stop():
                    return None
                if self.jump is not None and not self.jumping and (
                        len(self.front) < self.low_water
                        and time.monotonic() >= self.jump_at):
                    self._jump(self.jump)
                if self.front:
                    return self.front.popleft()
                if self.fetch is not None and not self.fetching and (
                        len(self.rows) < self.low_water):
                    self._fetch(self.fetch)
                if self.rows:
                    return self.rows.popleft()
                if not self.fetching:
                    return None
                # For the lane that is fetching; a slow fetch (a batch being
                # rendered) doesn't keep rows that jump waiting.
                self.lock.wait(max(self.jump_every, 0.01) if self.jump is not None else None)

    def take_all(self) -> list[Any]:
        """Remove and return the rows no lane took."""
        with self.lock:
            rows = [*self.front, *self.rows]
            self.front.clear()
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

    def _jump(self, jump: Callable[[], list[Any]]) -> None:
        # As _fetch(): the other lanes go on taking rows meanwhile.
        self.jumping = True
        self.lock.release()
        rows: list[Any] = []
        try:
            rows = jump()
        except BaseException:
            self.jump = None  # the line goes on without it
            raise
        finally:
            self.lock.acquire()
            self.jumping = False
            self.jump_at = time.monotonic() + self.jump_every
            self.front.extend(rows)
            self.lock.notify_all()
