"""Spam score: each variant's full MIME message through SpamAssassin, local rules only.

``spamassassin -L -t`` runs SpamAssassin's local tests (no DNS blocklists, no
network) and reports the score and every rule hit. A run takes about a second,
so results are kept per message content (the Date and Message-ID headers, new
in every render, are left out of the key). Without SpamAssassin the check says
how to install it; it is never an error.
"""

import email.policy
import hashlib
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from ..conf import txmail_settings
from .findings import Finding, Severity

INSTALL_HINT = (
    "Install SpamAssassin to score messages offline: apt-get install spamassassin "
    "(Debian, Ubuntu), brew install spamassassin (macOS). Only its local rules run.")
TIMEOUT = 120  # seconds: the first run compiles the rules
_SUMMARY = re.compile(r"Content analysis details:\s+\((-?[\d.]+) points?, (-?[\d.]+) required\)")
_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s+(.*)$")
_VOLATILE = re.compile(rb"^(?:Date|Message-ID):[^\n]*\n(?:[ \t][^\n]*\n)*",
                       re.IGNORECASE | re.MULTILINE)

_BOUNDARY = re.compile(rb'boundary="?([^";\s]+)', re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    name: str
    points: float
    description: str


@dataclass(frozen=True)
class SpamReport:
    score: float
    required: float  # SpamAssassin's own spam threshold (5.0 by default)
    rules: tuple[Rule, ...]
    seconds: float  # how long the run took

    def hits(self) -> list[Rule]:
        """The rules that moved the score (informational 0-point rules left out)."""
        return [rule for rule in self.rules if rule.points != 0]


class SpamAssassinError(Exception):
    pass


def spamassassin() -> str | None:
    """The path of the ``spamassassin`` command, or None when it isn't installed."""
    return shutil.which("spamassassin")


_cache: dict[str, SpamReport] = {}


def content_key(raw: bytes) -> str:
    """A hash of ``raw`` without what changes in every render of the same content.

    That is the Date and Message-ID headers and the multipart boundaries.
    """
    head, sep, body = raw.partition(b"\n\n")
    key = _VOLATILE.sub(b"", head + b"\n") + sep + body
    for i, boundary in enumerate(dict.fromkeys(_BOUNDARY.findall(raw))):
        key = key.replace(boundary, b"=_boundary_%d_=" % i)
    return hashlib.sha256(key).hexdigest()


def score(raw: bytes, *, command: str | None = None) -> SpamReport:
    """Score the MIME message ``raw``; raise ``SpamAssassinError`` if it can't be scored."""
    key = content_key(raw)
    if key in _cache:
        return _cache[key]
    command = command or spamassassin()
    if command is None:
        raise SpamAssassinError(f"SpamAssassin isn't installed. {INSTALL_HINT}")
    started = time.monotonic()
    try:
        # -L: local tests only; -t: test mode, the report appended; -x: don't
        # create ~/.spamassassin/user_prefs.
        result = subprocess.run([command, "-L", "-t", "-x"], input=raw, capture_output=True,
                                timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SpamAssassinError(f"{command} didn't run: {exc}") from exc
    seconds = time.monotonic() - started
    report = parse_report(result.stdout.decode("utf-8", "replace"), seconds)
    if report is None:
        raise SpamAssassinError(
            f"{command} -L -t gave no report (exit {result.returncode}): "
            f"{result.stderr.decode('utf-8', 'replace').strip()[-300:]}")
    _cache[key] = report
    return report


def parse_report(output: str, seconds: float = 0.0) -> SpamReport | None:
    """Read the score and rules from ``spamassassin -t``'s report, or None if absent."""
    # The last one: a message may quote a report of its own.
    found = list(_SUMMARY.finditer(output))
    if not found:
        return None
    summary = found[-1]
    rules: list[Rule] = []
    lines = output[summary.end():].splitlines()
    for line in lines[3:]:  # a blank line, the column titles and the rule under them
        if not line.strip():
            break
        if match := _RULE.match(line):
            rules.append(Rule(match.group(2), float(match.group(1)), match.group(3).strip()))
        elif rules and line.startswith(" "):  # a description continued
            last = rules[-1]
            rules[-1] = Rule(last.name, last.points, f"{last.description} {line.strip()}")
    # "+ 0.0": SpamAssassin sums -0.0 rules to "-0.0", shown as 0.
    return SpamReport(float(summary.group(1)) + 0.0, float(summary.group(2)), tuple(rules),
                      seconds)


def build_mime(html: str | None, text: str | None, subject: str = "") -> bytes:
    """A plain multipart message of ``text`` and ``html`` for a variant without MIME bytes.

    txmail's own messages are scored as sent (the preview's bytes); this is for
    variants that carry only their parts.
    """
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = subject
    msg["From"] = "sender@example.com"
    msg["To"] = "recipient@example.com"
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg.set_content(text or "")
    if html:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def _raw_of(variant: Any) -> bytes:
    for name in ("raw", "mime"):
        value = getattr(variant, name, None)
        if isinstance(value, bytes):
            return value
        if value is not None and hasattr(value, "as_bytes"):
            return bytes(value.as_bytes())
    return build_mime(getattr(variant, "html", None), getattr(variant, "text", None),
                      getattr(variant, "subject", "") or "")


def check(variant: Any) -> Iterable[Finding]:
    """Score the variant's MIME message (``variant.raw``, else built from its parts).

    ``SPAM_THRESHOLD`` in ``variant.settings`` wins over the project's setting.
    """
    given = getattr(variant, "settings", None)
    threshold = (given.get("SPAM_THRESHOLD") if isinstance(given, Mapping)
                 else getattr(given, "SPAM_THRESHOLD", None))
    return check_message(_raw_of(variant), threshold=threshold)


def check_message(raw: bytes, *, threshold: float | None = None) -> list[Finding]:
    """One ``spam-score`` finding for the MIME message ``raw``."""
    if spamassassin() is None:
        return [Finding("spam-score", "Not scored: SpamAssassin isn't installed.",
                        INSTALL_HINT, Severity.INFO, "message")]
    try:
        report = score(raw)
    except SpamAssassinError as exc:
        return [Finding("spam-score", f"Not scored: {exc}",
                        "Run `spamassassin -L -t < message.eml` to see why.", Severity.INFO,
                        "message")]
    limit = float(txmail_settings.SPAM_THRESHOLD if threshold is None else threshold)
    hits = report.hits()
    listed = "; ".join(f"{r.name} ({r.points:+g}: {r.description})" for r in hits)
    over = report.score > limit
    return [Finding(
        "spam-score",
        f"SpamAssassin scores this {report.score:g} (TXMAIL['SPAM_THRESHOLD'] is {limit:g}; "
        f"{report.required:g} is spam): {listed or 'no rule hit'}. "
        f"Scored in {report.seconds:.1f} s, local rules only.",
        "Fix what each rule names (spamassassin --lint; the rules' pages: "
        "https://cwiki.apache.org/confluence/display/SPAMASSASSIN/Rules)."
        if over else "", Severity.WARNING if over else Severity.INFO, "message")]
