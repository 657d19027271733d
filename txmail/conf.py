"""txmail's settings: one ``TXMAIL`` dict, read through ``txmail_settings``."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Domain of generated Message-IDs; None means the domain of the From address,
    # which keeps the ID aligned with DKIM instead of leaking the host name.
    "MESSAGE_ID_DOMAIN": None,
    # Mailer alias for classes that don't set ``mailer``.
    "DEFAULT_MAILER": "default",
    # Preview UI (txmail.urls): None follows settings.DEBUG; True also enables it
    # outside DEBUG for staff users only; False turns it off even in DEBUG.
    "PREVIEW_ENABLED": None,
    # Dev mailbox (txmail.mailbox.MailboxBackend): where sent messages are kept
    # (None: <BASE_DIR or tempdir>/txmail-mailbox) and how many are kept.
    "MAILBOX_PATH": None,
    "MAILBOX_SIZE": 200,
    # Compile each template once and render messages from the compiled HTML and
    # text (txmail.precompile); False runs the whole pipeline for every message.
    "PRECOMPILE": True,
}


class TxmailSettings:
    """Attribute access to ``settings.TXMAIL`` with defaults, read on every access."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown txmail setting {name!r}.")
        return getattr(settings, "TXMAIL", {}).get(name, DEFAULTS[name])


txmail_settings = TxmailSettings()
