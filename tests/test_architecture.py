"""docs/architecture.md names every module of txmail once, and only modules that exist."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"


def modules_in_code() -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "txmail").rglob("*.py")
            if "migrations" not in p.parts}


def modules_on_page() -> list[str]:
    return re.findall(r"^- `(txmail/[\w/]+\.py)`:", PAGE.read_text(), re.M)


def test_the_architecture_page_lists_every_module():
    listed = modules_on_page()
    missing = sorted(modules_in_code() - set(listed))
    assert not missing, f"docs/architecture.md lacks a line for {missing}"


def test_the_architecture_page_lists_only_modules_that_exist():
    listed = modules_on_page()
    gone = sorted(set(listed) - modules_in_code())
    assert not gone, f"docs/architecture.md names modules that don't exist: {gone}"
    assert len(listed) == len(set(listed)), "a module is listed twice"


def test_apps_modules_are_discovered_in_one_place():
    # Message classes (emails.py) and mailboxes (mailboxes.py) share registry.discover().
    callers = sorted(p for p in modules_in_code() if "autodiscover_modules(" in (
        ROOT / p).read_text())
    assert callers == ["txmail/registry.py"]
