"""Client compatibility: what a variant uses that ``TXMAIL["CLIENTS"]`` don't support.

Each feature the HTML uses (``scan``) is looked up in caniemail's data for each
chosen client, at the latest version caniemail tested: not supported ("n") is
a warning naming the clients, partly supported ("a") an info with caniemail's
note. MJML's output is read as MJML means it (``docs/how-to/quality.md``): its
own reset and responsive CSS is not reported, and what only Outlook for
Windows lacks is one info finding, since MJML writes that client its own
markup in ``<!--[if mso]>`` comments.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from . import caniemail, scan
from .clients import Client, chosen
from .findings import Finding, Severity
from .variant import Variant

# The clients MJML gives conditional-comment markup of their own.
MSO_KEYS = frozenset({"outlook.windows", "outlook.windows-mail"})
# Every HTML email has these; a client that drops them keeps the content, so
# "not supported" is worth knowing (styles on <body> are lost) but not a warning.
STRUCTURE = frozenset({"html-doctype", "html-body"})


@dataclass
class _Feature:
    slug: str
    uses: list[scan.Use] = field(default_factory=list)

    def named(self, title: str) -> str:
        """``"display:flex"``, or ``"border ('border-top', 'border')"`` when it says more."""
        found = list(dict.fromkeys(use.detail for use in self.uses))
        if found == [title]:
            return title
        return f"{title} ({', '.join(repr(detail) for detail in found[:8])})"

    @property
    def where(self) -> str:
        first = self.uses[0].where
        return first if len(self.uses) == 1 else f"{first} and {len(self.uses) - 1} more"


def _platforms(client: Client, keys: list[str]) -> str:
    """``"Gmail"`` when all its platforms are meant, else ``"Gmail (Android, iOS)"``."""
    if len(keys) == len(client.keys):
        return client.label
    platforms = ", ".join(caniemail.nicename(key.partition(".")[2]) for key in keys)
    return f"{client.label} ({platforms})"


def _title(slug: str) -> str:
    return caniemail.features()[slug]["title"]


def findings(html: str, clients: list[Client]) -> Iterator[Finding]:
    """The compatibility findings for ``html`` in ``clients``."""
    features: dict[str, _Feature] = {}
    for use in scan.uses(html):
        if not use.boilerplate:
            features.setdefault(use.slug, _Feature(use.slug)).uses.append(use)
    mjml = scan.is_mjml(html)
    degrades: dict[str, list[str]] = {}  # client name -> titles (MJML, Outlook only)
    for slug, feature in features.items():
        category = caniemail.features()[slug]["category"] or "html"
        missing: list[tuple[Client, list[str]]] = []
        why: list[str] = []
        partial: list[tuple[Client, list[str], str]] = []
        for client in clients:
            states = {key: caniemail.support(slug, key) for key in client.keys}
            no = [key for key, (state, _note) in states.items() if state == "n"]
            if no and mjml and set(no) <= MSO_KEYS:
                degrades.setdefault(client.name, []).append(_title(slug))
            elif no:
                missing.append((client, no))
                why += [note for key in no for note in states[key][1]]
            partly = [note for state, said in states.values() if state == "a" for note in said]
            some = [key for key, (state, _notes) in states.items() if state == "a"]
            if some:
                partial.append((client, some, " ".join(dict.fromkeys(partly))))
        url = caniemail.url(slug)
        if missing:
            names = ", ".join(_platforms(client, keys) for client, keys in missing)
            notes = " ".join(dict.fromkeys(why))
            yield Finding(
                f"{category}-unsupported",
                f"{feature.named(_title(slug))} is not supported in {names}."
                + (f" caniemail: {notes}" if notes else ""),
                f"Make sure the message still reads without it there, or use another way; "
                f"see {url}", Severity.INFO if slug in STRUCTURE else Severity.WARNING,
                feature.where,
                tuple(client.name for client, _keys in missing))
        if partial:
            said = "; ".join(f"{_platforms(client, keys)}{': ' + note if note else ''}"
                             for client, keys, note in partial)
            yield Finding(
                f"{category}-partial",
                f"{feature.named(_title(slug))} is partly supported in {said}",
                f"See {url}", Severity.INFO, feature.where,
                tuple(client.name for client, _keys, _note in partial))
    for name, titles in degrades.items():
        label = next(client.label for client in clients if client.name == name)
        yield Finding(
            "mjml-degrades",
            f"{label} lacks {len(titles)} features this MJML output uses "
            f"({', '.join(titles)}); MJML gives it its own table markup in "
            "<!--[if mso]> comments, so they degrade there as designed.",
            "Check the message in that client once (a test send); nothing to fix otherwise.",
            Severity.INFO, "html", (name,))


def check(variant: Variant) -> Iterator[Finding]:
    """Compatibility findings for ``variant``'s HTML in its clients."""
    if variant.html:
        yield from findings(variant.html, chosen(variant.clients))
