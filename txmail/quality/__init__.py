"""Checks over a rendered message: client compatibility, accessibility, links, spam.

Each check reads what a variant rendered to (HTML, text, the MIME bytes) and returns
``Finding`` values; it never renders, sends or touches the network. ``run(variant)``
runs every check listed in ``checks.CHECKS``, each finding code from one check.
"""

from .checks import CHECKS, at_least, by_severity, for_clients, run
from .findings import Finding, Severity
from .variant import Variant, variant_of

__all__ = ["CHECKS", "Finding", "Severity", "Variant", "at_least", "by_severity",
           "for_clients", "run", "variant_of"]
