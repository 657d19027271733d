"""What the worker-process tests share: their clusters' logs and migrated databases."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def logs_of(directory: Path) -> str:
    """The last 3,000 characters of every ``*.log`` in ``directory``, for a failure message."""
    return "\n".join(f"== {p.name}\n" + p.read_text()[-3000:]
                     for p in sorted(directory.glob("*.log")))


def migrated_template(directory: Path, env_for: Callable[[Path], dict[str, str]],
                      *args: str) -> Path:
    """A migrated SQLite file in ``directory``, to copy for each test (migrating is slow).

    ``env_for(path)`` is the environment the test's workers get for a database at ``path``.
    """
    path = directory / "template.sqlite3"
    subprocess.run([sys.executable, "-m", "django", "migrate", *args, "-v0"],
                   check=True, env=env_for(path), cwd=ROOT, timeout=120)
    return path
