"""Round-robin: a mailer that spreads messages over other ``MAILERS`` aliases.

    "bulk": {
        "BACKEND": "txmail.backends.roundrobin.EmailBackend",
        "OPTIONS": {"mailers": ["smtp-a", "smtp-b", "smtp-c"], "cooldown": 60},
    }

Each message starts at the next alias in turn among those not cooling down
(so a dead alias's share is spread over all the others, not handed to its
neighbour) and falls over to the following ones exactly as the failover mailer
does (same cooldown, shared through the cache). The turn is kept per process
and per mailer alias, starting at a random alias, so several workers don't all
start on the first one. (Django builds a
new backend for each ``mailers[alias]``, so the turn can't live on the instance.)
"""

import itertools
import random
import threading
from typing import Any

from .failover import EmailBackend as FailoverBackend

_turns: dict[tuple[str | None, tuple[str, ...]], Any] = {}
_lock = threading.Lock()


class EmailBackend(FailoverBackend):
    """Start each message at the next alias of ``mailers``; fall over to the rest."""

    def order(self, up: list[str]) -> list[str]:
        if not up:
            return up
        key = (self.alias, tuple(self.mailers))
        with _lock:
            turn = _turns.get(key)
            if turn is None:
                turn = _turns[key] = itertools.count(random.randrange(len(self.mailers)))
            start = next(turn) % len(up)
        return up[start:] + up[:start]
