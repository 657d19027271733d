"""The documentation can't drift: check ids match the code, the testing how-to runs."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CHECK_ID = re.compile(r"txmail\.[EW]\d{3}")


def ids_in_code() -> set[str]:
    return {found for path in (ROOT / "txmail").rglob("*.py")
            for found in CHECK_ID.findall(path.read_text())}


def ids_on_the_checks_page() -> set[str]:
    # Each check is a definition-list term: a line that is only the id.
    page = (DOCS / "reference" / "checks.md").read_text()
    return set(re.findall(r"^`(txmail\.[EW]\d{3})`$", page, re.M))


def test_the_checks_page_explains_every_check_id_in_the_code():
    missing = sorted(ids_in_code() - ids_on_the_checks_page())
    assert not missing, f"docs/reference/checks.md lacks an entry for {missing}"


def test_the_checks_page_lists_only_ids_the_code_has():
    gone = sorted(ids_on_the_checks_page() - ids_in_code())
    assert not gone, f"docs/reference/checks.md lists ids no code reports: {gone}"


# A fenced block whose first line names a file: "# shop/emails.py" or
# "{# shop/templates/emails/welcome.html #}".
BLOCK = re.compile(r"^```[\w-]*\n(?:# |\{# )([\w./-]+\.\w+)(?: #\})?\n(.*?)^```$", re.M | re.S)

# The project around the page: what the page says is "nothing txmail-specific".
SETTINGS = """\
SECRET_KEY = "docs-testing-page-not-secret"
USE_TZ = True
ROOT_URLCONF = "shop.urls"
DEFAULT_FROM_EMAIL = "Shop <shop@example.com>"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "txmail", "shop"]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates",
              "APP_DIRS": True}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                       "OPTIONS": {"host": "smtp.example.com"}}}
"""


def files_on_the_testing_page() -> dict[str, str]:
    page = (DOCS / "how-to" / "testing.md").read_text()
    return {path: body for path, body in BLOCK.findall(page)}


def test_the_testing_page_names_the_files_it_shows():
    files = files_on_the_testing_page()
    assert {"shop/emails.py", "shop/views.py", "shop/urls.py", "pyproject.toml",
            "shop/tests/test_emails.py", "shop/tests/test_signup.py"} <= set(files)


def test_the_testing_pages_project_passes_its_own_tests(tmp_path):
    for path, body in files_on_the_testing_page().items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body)
    for package in ("mysite", "shop", "shop/tests"):
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    (tmp_path / "mysite" / "settings.py").write_text(SETTINGS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-W", "error::DeprecationWarning:django.*", "shop"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    # Every test on the page ran: 4 with pytest, 2 in the TestCase.
    assert "8 passed" in run.stdout, run.stdout
    # The page (and the README) say the shell shows Welcome's preview().
    shown = subprocess.run(
        [sys.executable, "-m", "django", "txmail", "render", "shop.Welcome", "--format", "text"],
        cwd=tmp_path, env={**env, "DJANGO_SETTINGS_MODULE": "mysite.settings"},
        capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "Hello Ada, thanks for signing up." in shown.stdout, shown.stdout
