"""The registered checks and ``run()``, which runs them all over one variant.

A check is a module of ``txmail.quality`` with a function ``check(variant)``
returning an iterable of ``Finding``; it is listed by name in ``CHECKS``. A
check that raises doesn't stop the others: its error becomes a finding.
"""

import importlib
from collections.abc import Callable, Iterable

from .findings import Finding, Severity
from .variant import Variant

Check = Callable[[Variant], Iterable[Finding]]

# Modules of txmail.quality, run in this order.
# Each finding code belongs to one check (docs/how-to/quality.md lists them).
CHECKS: tuple[str, ...] = (
    "compat",  # HTML and CSS against TXMAIL["CLIENTS"] (caniemail's data)
    "accessibility",  # html-lang, html-dir, img-alt, table-role, link text, contrast, headings
    "links",  # relative-url, http-url, link-host, mailto, the bulk unsubscribe link
    "clip",  # gmail-clip
    "spam",  # spam-score: the MIME bytes through SpamAssassin (skipped with spam=False)
)

ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def registered() -> list[tuple[str, Check]]:
    """``[(name, check)]`` for each module in ``CHECKS``."""
    return [(name, importlib.import_module(f"{__package__}.{name}").check) for name in CHECKS]


def run(variant: Variant, *, checks: Iterable[tuple[str, Check]] | None = None,
        skip: Iterable[str] = ()) -> list[Finding]:
    """Every finding of every check over ``variant``, errors first.

    ``skip`` names checks not to run (``("spam",)``: SpamAssassin takes a second).
    """
    findings: list[Finding] = []
    skipped = set(skip)
    for name, check in registered() if checks is None else checks:
        if name in skipped:
            continue
        try:
            findings.extend(check(variant))
        except Exception as exc:  # one broken check must not hide the others' findings
            findings.append(Finding(
                "check-failed", f"The {name!r} check failed: {exc!r}",
                "The other checks ran; report this if it persists.", Severity.INFO))
    return by_severity(findings)


def by_severity(findings: Iterable[Finding]) -> list[Finding]:
    """``findings`` errors first, then warnings, then info, each kept in its order."""
    return sorted(findings, key=lambda f: ORDER[f.severity])


def at_least(findings: Iterable[Finding], severity: Severity | str) -> list[Finding]:
    """The findings as severe as ``severity`` or more."""
    floor = ORDER[Severity(severity)]
    return [f for f in findings if ORDER[f.severity] <= floor]


def for_clients(findings: Iterable[Finding], clients: Iterable[str]) -> list[Finding]:
    """The findings that affect one of ``clients`` (those for all clients too)."""
    wanted = set(clients)
    return [f for f in findings if not f.clients or wanted & set(f.clients)]
