"""The example project works: its own tests, checks and the example messages.

It has its own settings, so it runs in a subprocess with Django's test runner.
"""

import os
import subprocess
import sys
from pathlib import Path

DJANGO_DEPRECATIONS_AS_ERRORS = "error::django.utils.deprecation.RemovedInDjango2028Warning"
EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"


def manage(*args):
    return subprocess.run(
        [sys.executable, "-W", DJANGO_DEPRECATIONS_AS_ERRORS, "manage.py", *args],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=300,
        # pytest's DJANGO_SETTINGS_MODULE must not leak into the example's manage.py.
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
    )


def test_example_project_tests_pass():
    result = manage("test", "shop", "--noinput", "-v", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\nOK" in result.stderr and "FAILED" not in result.stderr


def test_example_project_has_no_check_errors_or_missing_migrations():
    result = manage("check", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    result = manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
