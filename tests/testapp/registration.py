"""Register a test module's message classes for the duration of a block."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from txmail.message import Message
from txmail.registry import register, unregister


@contextmanager
def registered_classes(classes: Sequence[type[Message]]) -> Iterator[Sequence[type[Message]]]:
    """Register ``classes``, yield them, and unregister them after the block."""
    for cls in classes:
        register(cls)
    try:
        yield classes
    finally:
        for cls in classes:
            unregister(cls)
