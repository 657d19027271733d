"""What a quality check reports: one ``Finding`` per problem found in a variant."""

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    # An error fails `manage.py txmail lint` and the test assertion; a warning is shown.
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    code: str  # stable id, e.g. "img-alt", "css-unsupported"
    message: str  # the problem, with the offending value quoted
    hint: str = ""  # the fix
    severity: Severity = Severity.WARNING
    where: str = ""  # element, line or part ("html", "text")
    clients: tuple[str, ...] = ()  # the email clients it affects; () means all
