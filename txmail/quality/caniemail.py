"""caniemail's support data, read from the snapshot shipped in ``data/``.

https://www.caniemail.com (MIT licence, ``data/caniemail-LICENSE.txt``);
``python -m txmail.quality.refresh`` writes a newer snapshot.
"""

import functools
import json
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).resolve().parent / "data" / "caniemail.json"

# caniemail's _data/nicenames.yml, for the families and platforms named in findings.
NICENAMES = {
    "gmail": "Gmail", "outlook": "Outlook", "yahoo": "Yahoo! Mail", "apple-mail": "Apple Mail",
    "aol": "AOL", "thunderbird": "Mozilla Thunderbird", "samsung-email": "Samsung Email",
    "sfr": "SFR", "orange": "Orange", "protonmail": "ProtonMail", "hey": "HEY",
    "mail-ru": "Mail.ru", "fastmail": "Fastmail", "laposte": "LaPoste.net",
    "t-online-de": "T-online.de", "free-fr": "Free.fr", "gmx": "GMX", "web-de": "WEB.DE",
    "ionos-1and1": "1&1", "rainloop": "RainLoop", "wp-pl": "WP.pl",
    "desktop-app": "Desktop", "desktop-webmail": "Desktop Webmail",
    "mobile-webmail": "Mobile Webmail", "webmail": "Webmail", "ios": "iOS",
    "android": "Android", "windows": "Windows", "macos": "macOS",
    "windows-mail": "Windows Mail", "outlook-com": "Outlook.com",
}


def nicename(key: str) -> str:
    return NICENAMES.get(key, key)


@functools.cache
def snapshot() -> dict[str, Any]:
    """The whole snapshot: ``source``, ``commit``, ``date``, ``features``."""
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def features() -> dict[str, Any]:
    """``{slug: {"title", "category", "support": {"family.platform": "a #1"}, "notes"}}``."""
    return snapshot()["features"]


def support(slug: str, key: str) -> tuple[str, list[str]]:
    """``("y" | "n" | "a" | "u", notes)`` for feature ``slug`` in client ``key``."""
    feature = features().get(slug)
    value = feature["support"].get(key, "u") if feature else "u"
    state, *marks = value.split()
    notes = feature["notes"] if feature else {}
    return state, [notes[m.lstrip("#")] for m in marks if m.lstrip("#") in notes]


def url(slug: str) -> str:
    return f"https://www.caniemail.com/features/{slug}/"
