"""``send()``'s email, signed as a queued one is: its frozen bytes, with a DKIM-Signature.

A queued message is signed when it is frozen (``frozen.freeze()``). ``send()`` hands the
built email to the mailer, which would generate the bytes anew (new MIME boundaries:
no signature made beforehand would match); when a DKIM key applies, it hands the frozen,
signed bytes instead.
"""

from typing import Any

from . import dkim
from .frozen import FrozenEmail, freeze

# What the email carries beside its bytes: anymail's options (``esp``), VERP (``verp``).
_CARRIED = ("tags", "metadata", "esp_extra", "idempotency_key", "return_path",
            "return_paths")


def signed_email(email: Any, frozen: tuple[bytes, str, list[str]] | None = None) -> Any:
    """``email`` as the mailer should get it: a ``FrozenEmail`` of signed bytes with the
    same envelope and options when a DKIM key applies to it, else ``email`` itself.

    ``frozen``: what ``freeze(email)`` gave already (the bytes the log keeps), so the
    message is signed once and the kept bytes are the ones sent.
    """
    if not dkim.applies_to(email):
        return email
    raw, envelope_from, recipients = frozen or freeze(email)
    signed = FrozenEmail(raw, envelope_from, recipients)
    for name in _CARRIED:
        if getattr(email, name, None):
            setattr(signed, name, getattr(email, name))
    return signed
