"""The email clients ``TXMAIL["CLIENTS"]`` names, as caniemail's ``family.platform`` keys.

A name is one of ``NAMED`` (``"gmail"``, ``"outlook-windows"``, ...), or any of
caniemail's families (``"thunderbird"``: all its platforms) or ``family.platform``
keys (``"gmail.android"``).
"""

import difflib
import functools
from dataclasses import dataclass

from ..conf import DEFAULTS
from . import caniemail


@dataclass(frozen=True)
class Client:
    name: str  # as TXMAIL["CLIENTS"] spells it
    label: str  # for people: "Outlook for Windows"
    keys: tuple[str, ...]  # caniemail's family.platform keys


def _platforms(family: str, *platforms: str) -> tuple[str, ...]:
    return tuple(f"{family}.{platform}" for platform in platforms)


NAMED: dict[str, tuple[str, tuple[str, ...]]] = {
    # Gmail on the web and its apps; its basic mobile web view is "gmail-mobile-web".
    "gmail": ("Gmail", _platforms("gmail", "desktop-webmail", "ios", "android")),
    "gmail-web": ("Gmail (web)", _platforms("gmail", "desktop-webmail")),
    "gmail-mobile-web": ("Gmail (mobile web)", _platforms("gmail", "mobile-webmail")),
    "gmail-ios": ("Gmail (iOS)", _platforms("gmail", "ios")),
    "gmail-android": ("Gmail (Android)", _platforms("gmail", "android")),
    "apple-mail": ("Apple Mail", _platforms("apple-mail", "macos", "ios")),
    "apple-mail-macos": ("Apple Mail (macOS)", _platforms("apple-mail", "macos")),
    "apple-mail-ios": ("Apple Mail (iOS)", _platforms("apple-mail", "ios")),
    # Outlook 2007-2019 and Microsoft 365 on Windows: Word's rendering engine.
    "outlook-windows": ("Outlook for Windows", _platforms("outlook", "windows")),
    # The new Outlook for Windows renders as Outlook.com does (caniemail tests that).
    "new-outlook": ("new Outlook", _platforms("outlook", "outlook-com")),
    "outlook-com": ("Outlook.com", _platforms("outlook", "outlook-com")),
    "outlook-mac": ("Outlook for Mac", _platforms("outlook", "macos")),
    "outlook-ios": ("Outlook (iOS)", _platforms("outlook", "ios")),
    "outlook-android": ("Outlook (Android)", _platforms("outlook", "android")),
    "windows-mail": ("Windows Mail", _platforms("outlook", "windows-mail")),
    "yahoo": ("Yahoo Mail", _platforms("yahoo", "desktop-webmail", "ios", "android")),
}

DEFAULT: tuple[str, ...] = tuple(DEFAULTS["CLIENTS"])


@functools.cache
def _known_keys() -> frozenset[str]:
    return frozenset(key for feature in caniemail.features().values()
                     for key in feature["support"])


def known() -> list[str]:
    """Every name ``TXMAIL["CLIENTS"]`` accepts."""
    keys = _known_keys()
    return [*NAMED, *sorted({key.partition(".")[0] for key in keys}), *sorted(keys)]


def resolve(name: str) -> Client | None:
    """The client ``name`` stands for, or None if caniemail has no such client."""
    if name in NAMED:
        label, keys = NAMED[name]
        return Client(name, label, keys)
    known_keys = _known_keys()
    if name in known_keys:
        family, _, platform = name.partition(".")
        return Client(name, f"{caniemail.nicename(family)} ({caniemail.nicename(platform)})",
                      (name,))
    found = tuple(sorted(key for key in known_keys if key.partition(".")[0] == name))
    return Client(name, caniemail.nicename(name), found) if found else None


def unknown_message(name: str) -> str:
    """The problem with an unknown name, and the closest known one."""
    close = difflib.get_close_matches(name, known(), n=1)
    fix = f"Did you mean {close[0]!r}?" if close else "Remove it."
    return (f"TXMAIL['CLIENTS'] names an unknown email client {name!r}. {fix} Known: "
            + ", ".join(NAMED) + ", or a caniemail family or family.platform key "
            "(e.g. 'thunderbird', 'gmail.android').")


def chosen(names: tuple[str, ...]) -> list[Client]:
    """The clients of ``names`` that resolve (the system check reports the others)."""
    return [client for client in map(resolve, names) if client is not None]
