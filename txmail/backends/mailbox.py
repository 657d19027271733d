"""A development mailbox: a mail backend that keeps sent messages in a directory.

    MAILERS = {
        "default": {
            "BACKEND": "txmail.backends.mailbox.MailboxBackend",
            "OPTIONS": {"path": BASE_DIR / "var" / "mailbox", "size": 200},
        },
    }

Each message is stored as ``<id>.eml`` (the raw bytes a real backend would
send) plus ``<id>.json`` (mailer alias, time, subject, recipients, Message-ID),
so runserver, management commands and task workers all write to one place
without migrations. The preview UI's "Sent" page reads it; only the newest
``size`` messages are kept.
"""

import json
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import InvalidMailer
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.module_loading import import_string

from ..conf import txmail_settings
from ..exceptions import InvalidSetting
from ..kinds import POSITIVE_INT

BACKEND_PATH = "txmail.backends.mailbox.MailboxBackend"
# <20-digit ns timestamp>-<hex>: sorts chronologically and is safe in URLs/paths.
ENTRY_ID = re.compile(r"^\d{20}-[0-9a-f]{12}$")


def default_path() -> Path:
    """Return ``TXMAIL["MAILBOX_PATH"]``, else ``<BASE_DIR or tempdir>/txmail-mailbox``."""
    configured = txmail_settings.MAILBOX_PATH
    if configured:
        return Path(configured)
    base = getattr(settings, "BASE_DIR", None) or tempfile.gettempdir()
    return Path(base) / "txmail-mailbox"


@dataclass(frozen=True)
class Entry:
    """One stored message: its metadata; ``raw()`` reads the bytes."""

    id: str
    directory: Path
    meta: dict[str, Any]

    @property
    def subject(self) -> str:
        return str(self.meta.get("subject", ""))

    @property
    def timestamp(self) -> datetime:
        return datetime.fromisoformat(self.meta["timestamp"])

    @property
    def mailer(self) -> str | None:
        return self.meta.get("mailer")

    def raw(self) -> bytes:
        return (self.directory / f"{self.id}.eml").read_bytes()


class Mailbox:
    """A directory of ``.eml`` + ``.json`` pairs, newest ``size`` kept."""

    def __init__(self, path: str | os.PathLike[str] | None = None,
                 size: int | None = None) -> None:
        self.path = Path(path) if path else default_path()
        if size is None:
            size = txmail_settings.MAILBOX_SIZE
        elif problem := POSITIVE_INT.problem(size):
            raise InvalidSetting(
                f"The mailbox 'size' {problem}. Fix the MailboxBackend's OPTIONS in "
                "settings.MAILERS."
            )
        self.size: int = size

    def __repr__(self) -> str:
        return f"<Mailbox {self.path} size={self.size}>"

    def add(self, raw: bytes, meta: dict[str, Any]) -> Entry:
        """Store one message and drop the oldest beyond ``size``."""
        self.path.mkdir(parents=True, exist_ok=True)
        entry_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
        meta = {"id": entry_id, "size": len(raw),
                "timestamp": datetime.now(UTC).isoformat(), **meta}
        # The .json is written last and atomically: a reader that sees it can
        # rely on the .eml being complete.
        self._write(f"{entry_id}.eml", raw)
        self._write(f"{entry_id}.json", json.dumps(meta, indent=1).encode())
        self.prune()
        return Entry(entry_id, self.path, meta)

    def _write(self, name: str, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, self.path / name)

    def _ids(self) -> list[str]:
        try:
            # One listdir, no stat per file: entries deleted meanwhile by another
            # process's prune just aren't there.
            names = os.listdir(self.path)
        except (FileNotFoundError, NotADirectoryError):
            return []
        ids = (name.removesuffix(".json") for name in names if name.endswith(".json"))
        return sorted((i for i in ids if ENTRY_ID.match(i)), reverse=True)

    def entries(self) -> list[Entry]:
        """Return stored messages, newest first; malformed or vanished ones are skipped."""
        found = []
        for entry_id in self._ids():
            entry = self.get(entry_id)
            if entry is not None:
                found.append(entry)
        return found

    def get(self, entry_id: str) -> Entry | None:
        """Return the entry ``entry_id`` or None: malformed id or metadata, or gone.

        The bytes may still vanish before ``raw()`` reads them (another
        process's prune or clear); callers treat that FileNotFoundError as gone.
        """
        if not ENTRY_ID.match(entry_id):
            return None
        try:
            meta = json.loads((self.path / f"{entry_id}.json").read_bytes())
        except (OSError, ValueError):
            # Deleted meanwhile, a directory, unreadable, not JSON or not UTF-8.
            return None
        if not valid_meta(meta):
            return None
        return Entry(entry_id, self.path, meta)

    def _delete(self, entry_id: str) -> None:
        for ext in (".json", ".eml"):
            try:
                (self.path / f"{entry_id}{ext}").unlink()
            except FileNotFoundError:
                pass

    def prune(self) -> None:
        for entry_id in self._ids()[self.size:]:
            self._delete(entry_id)

    def clear(self) -> int:
        """Delete every stored message; return how many there were."""
        ids = self._ids()
        for entry_id in ids:
            self._delete(entry_id)
        return len(ids)


# Metadata fields the Sent pages read, and what each must be when present.
_META_FIELDS: dict[str, Callable[[Any], bool]] = {
    "subject": lambda v: isinstance(v, str),
    "from": lambda v: isinstance(v, str),
    "message_id": lambda v: isinstance(v, str),
    "mailer": lambda v: v is None or isinstance(v, str),
    "size": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    "to": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    "bcc": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    "recipients": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
}


def valid_meta(meta: Any) -> bool:
    """Whether ``meta`` is an entry's metadata the Sent pages can show.

    A ``.json`` edited by hand, written by an older version or by another tool
    must not take the whole list down.
    """
    if not isinstance(meta, dict) or not isinstance(meta.get("timestamp"), str):
        return False
    try:
        datetime.fromisoformat(meta["timestamp"])
    except ValueError:
        return False
    return all(test(meta[key]) for key, test in _META_FIELDS.items() if key in meta)


def message_meta(message: Any, alias: str | None, raw_headers: Any) -> dict[str, Any]:
    return {
        "mailer": alias,
        "timestamp": datetime.now(UTC).isoformat(),
        "subject": str(raw_headers.get("Subject", "")),
        "from": str(raw_headers.get("From", "")),
        "to": list(message.to),
        # Bcc is never a header of the sent bytes; keep it for the Sent page.
        "bcc": list(getattr(message, "bcc", [])),
        "recipients": list(message.recipients()),
        "message_id": str(raw_headers.get("Message-ID", "")),
    }


class MailboxBackend(BaseEmailBackend):
    """Mail backend storing messages in a :class:`Mailbox` instead of sending.

    OPTIONS: ``path`` (default ``TXMAIL["MAILBOX_PATH"]``) and ``size``
    (default ``TXMAIL["MAILBOX_SIZE"]``, 200).
    """

    def __init__(self, *, path: str | os.PathLike[str] | None = None,
                 size: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # rejects unknown OPTIONS, as Django's do
        # django-stubs doesn't know BaseEmailBackend.alias (Django 6.1) yet.
        self.alias: str | None = kwargs.get("alias")
        if size is not None and (problem := POSITIVE_INT.problem(size)):
            raise InvalidMailer(f"'size' {problem}.", alias=self.alias)
        self.mailbox = Mailbox(path, size)

    def send_messages(self, email_messages: Iterable[Any]) -> int:
        count = 0
        for message in email_messages:
            mime = message.message()
            raw = mime.as_bytes()
            self.mailbox.add(raw, message_meta(message, self.alias, mime))
            count += 1
        return count


def _mailbox_options() -> list[dict[str, Any]]:
    """Return the OPTIONS of every MAILERS entry whose backend is a MailboxBackend."""
    found = []
    for config in getattr(settings, "MAILERS", {}).values():
        backend = config.get("BACKEND")
        try:
            cls = import_string(backend) if backend else None
        except ImportError:
            continue  # Django reports a bad BACKEND when that mailer is used
        if isinstance(cls, type) and issubclass(cls, MailboxBackend):
            found.append(dict(config.get("OPTIONS", {})))
    return found


def uses_mailbox() -> bool:
    """True if some MAILERS entry stores into a mailbox."""
    return bool(_mailbox_options())


def configured_mailboxes() -> list[Mailbox]:
    """Return the mailboxes of every MailboxBackend mailer (deduplicated).

    Without any, the default mailbox: another process may still write there.
    """
    found: dict[Path, Mailbox] = {}
    for options in _mailbox_options() or [{}]:
        box = Mailbox(options.get("path"), options.get("size"))
        found.setdefault(box.path.resolve(), box)
    return list(found.values())
