"""Bounce and complaint reports that come back by mail, for mailers that send directly.

The inbound side (``txmail.inbound``) hands every message addressed to a VERP return
path here instead of to a mailbox class. ``parse`` reads a report (RFC 3464 DSNs, RFC
5965 abuse reports, bounces in words, auto-replies); ``apply`` checks the return path's
signature and the recipient against the delivery, and records it as a provider's
webhook event is recorded (``txmail.webhooks``).
"""


def is_return_path(address: str) -> bool:
    """Say whether ``address`` is one of the VERP return paths txmail sends with.

    Its shape only: a forged one is ``receive()``'s to refuse, saying so.
    """
    from ..mail import verp

    return verp.matches(address)


def receive(raw: bytes, recipient: str) -> str:
    """Apply the report in ``raw``, delivered to ``recipient``; return what it did.

    Raises on a transient failure (the database), so the inbound task retries.
    """
    from .apply import receive as apply_report

    return apply_report(raw, recipient)
