"""Bounce and complaint reports that come back by mail, for mailers that send directly.

The inbound side (``txmail.inbound``) hands every message addressed to a VERP return
path here instead of to a mailbox class.
"""


def is_return_path(address: str) -> bool:
    """Say whether ``address`` is one of the VERP return paths txmail sends with."""
    return False


def receive(raw: bytes, recipient: str) -> str:
    """Apply the report in ``raw``, delivered to ``recipient``; return what it did.

    Raises on a transient failure, so the inbound task retries.
    """
    raise NotImplementedError("txmail.bounces.receive() is not written yet.")
