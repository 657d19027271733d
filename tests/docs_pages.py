"""The how-to pages' Python blocks, for the tests that run them (tests/test_docs_*.py)."""

import re
import textwrap
from pathlib import Path

HOW_TO = Path(__file__).resolve().parents[1] / "docs" / "how-to"
# A fenced block at any indent (a block inside a list item is indented with it).
PYTHON = re.compile(r"^( *)```python\n(.*?)^\1```$", re.M | re.S)


def blocks(page: str) -> list[str]:
    return [textwrap.dedent(body) for _indent, body in PYTHON.findall((HOW_TO / page).read_text())]


def block(page: str, phrase: str) -> str:
    [found] = [b for b in blocks(page) if phrase in b]
    return found


def pages(run: set[tuple[str, str]], not_run: dict[tuple[str, str], str]) -> list[str]:
    return sorted({page for page, _ in run | set(not_run)})


def assert_covered(page: str, run: set[tuple[str, str]],
                   not_run: dict[tuple[str, str], str]) -> None:
    """Every Python block of ``page`` is run (``run``) or listed with a reason (``not_run``),
    and each phrase still names exactly one block."""
    phrases = [p for pg, p in run | set(not_run) if pg == page]
    untested = [b for b in blocks(page) if not any(p in b for p in phrases)]
    assert untested == []
    for phrase in phrases:
        block(page, phrase)
