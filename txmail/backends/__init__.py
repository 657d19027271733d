"""Mail backends shipped with txmail (``MAILERS[...]["BACKEND"]``), and the one
place that calls mailers (``transport``: ``Connection``, ``deliver()``,
``deliver_many()``) with its classification of their errors (``classify``)."""

from .transport import Connection, SentMessage, deliver, deliver_many

__all__ = ["Connection", "SentMessage", "deliver", "deliver_many"]
