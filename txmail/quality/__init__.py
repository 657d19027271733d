"""Checks over a rendered message: client compatibility, accessibility, links, spam.

Each check reads what a variant rendered to (HTML and text) and returns ``Finding``
values; it never renders, sends or touches the network.
"""

from .findings import Finding, Severity

__all__ = ["Finding", "Severity"]
