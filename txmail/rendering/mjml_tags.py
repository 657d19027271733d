"""MJML 4's tags, and the ``<mj-…>`` tags of a source that aren't one.

MRML (like mjml-js without validation) drops an element it doesn't know,
content and all: ``<mj-buton href="…">Pay</mj-buton>`` loses the button and
its link from the HTML and the text part, and says nothing. So a name that
isn't MJML 4's is an error, offered the closest known one.
"""

import difflib
import re
from dataclasses import dataclass

# https://documentation.mjml.io/ (MJML 4), which MRML targets.
KNOWN = frozenset({
    # the document, and what may go anywhere
    "mjml", "mj-head", "mj-body", "mj-include", "mj-raw",
    # head
    "mj-attributes", "mj-breakpoint", "mj-font", "mj-html-attributes", "mj-preview",
    "mj-style", "mj-title",
    # children of mj-attributes (besides any component's name) and of mj-html-attributes
    "mj-all", "mj-class", "mj-selector", "mj-html-attribute",
    # body
    "mj-accordion", "mj-accordion-element", "mj-accordion-title", "mj-accordion-text",
    "mj-button", "mj-carousel", "mj-carousel-image", "mj-column", "mj-divider",
    "mj-group", "mj-hero", "mj-image", "mj-navbar", "mj-navbar-link", "mj-section",
    "mj-social", "mj-social-element", "mj-spacer", "mj-table", "mj-text", "mj-wrapper",
})

# An opening tag whose whole name is written out: ``<mj-{{ kind }}`` is
# decided per message, and ``<mjml`` is the document.
_TAG = re.compile(r"<(mj-[A-Za-z0-9-]*[A-Za-z0-9]|mjml[\w-]+)(?=[\s/>])", re.IGNORECASE)
# What never reaches MRML as elements: comments, and raw content kept verbatim.
_SKIPPED = re.compile(
    r"<!--.*?-->|\{#.*?#\}|\{%\s*comment\b.*?%\}.*?\{%\s*endcomment\s*%\}"
    r"|<mj-raw\b[^>]*>.*?</mj-raw\s*>",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class UnknownTag:
    """A tag of a source that isn't MJML 4's, with the closest that is."""

    name: str
    line: int
    closest: str | None

    def problem(self) -> str:
        """"<mj-buton> is not an MJML tag: did you mean 'mj-button'?" and what MRML does."""
        fix = (f"did you mean {self.closest!r}?" if self.closest else
               "use one of MJML 4's tags (https://documentation.mjml.io/)")
        return (f"<{self.name}> is not an MJML tag: {fix} MJML drops an element it "
                "doesn't know, with its content and links")


def closest(name: str) -> str | None:
    """The known tag closest to ``name``, if one is close."""
    found = difflib.get_close_matches(name.lower(), sorted(KNOWN), n=1, cutoff=0.6)
    return found[0] if found else None


def is_known(name: str) -> bool:
    return name.lower() in KNOWN


def unknown_tags(source: str) -> list[UnknownTag]:
    """Every tag of MJML ``source`` (a template, Django tags and all) that isn't MJML 4's."""
    blanked = _SKIPPED.sub(lambda m: "\n" * m.group(0).count("\n"), source)
    return [
        UnknownTag(match.group(1), blanked.count("\n", 0, match.start()) + 1,
                   closest(match.group(1)))
        for match in _TAG.finditer(blanked) if not is_known(match.group(1))
    ]
