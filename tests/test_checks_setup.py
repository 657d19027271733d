"""A newcomer's setup mistakes, in a small project run with real ``manage.py`` commands.

txmail not in INSTALLED_APPS (txmail.E005), ``migrate`` not run (txmail.E006,
and the error send() and enqueue() give), and the commands that set a project
up (``migrate``, ``makemigrations``) running whatever the templates say.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIX = "Run `python manage.py migrate`."


def counted(text: str) -> str:
    """``text`` with each count of migrations as N (other engineers add migrations)."""
    return re.sub(r"\b\d+ migrations of", "N migrations of", text.replace("\n", " "))

SETTINGS = """
SECRET_KEY = "a-newcomers-project-not-secret"
DEBUG = {debug}
USE_TZ = True
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_tasks_db",
                  {txmail}"shop"]
TEMPLATES = [{{"BACKEND": "django.template.backends.django.DjangoTemplates",
              "APP_DIRS": True}}]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}}}
MAILERS = {{"default": {{"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}}}
TASKS = {{"default": {{"BACKEND": "django_tasks_db.DatabaseBackend"}}}}
DEFAULT_FROM_EMAIL = "shop@example.com"
LOGGING = {{"version": 1, "handlers": {{"err": {{"class": "logging.StreamHandler"}}}},
           "loggers": {{"txmail": {{"handlers": ["err"], "level": "ERROR"}}}}}}
"""
MANAGE = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "settings"
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
"""
EMAILS = """
from txmail import Message

class Welcome(Message):
    template_name = "shop/welcome"
    subject = "Welcome"
"""
WELCOME = "<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text>" \
          "</mj-column></mj-section></mj-body></mjml>"
SEND = "from shop.emails import Welcome; Welcome(to=['ann@example.com']).{}()"


def make_project(path: Path, *, debug: bool = False, installed: bool = True,
                 emails: str = EMAILS, welcome: str = WELCOME) -> Path:
    (path / "shop" / "templates" / "shop").mkdir(parents=True)
    (path / "settings.py").write_text(SETTINGS.format(
        debug=debug, txmail='"txmail", ' if installed else ""))
    (path / "urls.py").write_text('from django.urls import include, path\n'
                                  'urlpatterns = [path("emails/", include("txmail.urls"))]\n')
    (path / "manage.py").write_text(MANAGE)
    (path / "shop" / "__init__.py").write_text("")
    (path / "shop" / "emails.py").write_text(emails)
    (path / "shop" / "templates" / "shop" / "welcome.mjml").write_text(welcome)
    return path


def manage(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(project)])
    return subprocess.run([sys.executable, "manage.py", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)


def shell(project: Path, code: str) -> subprocess.CompletedProcess[str]:
    return manage(project, "shell", "--no-imports", "-c", code)


def test_migrate_and_makemigrations_run_while_templates_are_wrong(tmp_path):
    emails = EMAILS + """
class Receipt(Message):
    template_name = "shop/receipt"  # not written yet
    subject = "Receipt"
"""
    broken = "<mjml><mj-body><mj-section><mj-column><mj-buton>Go</mj-buton></mj-body></mjml>"
    project = make_project(tmp_path, debug=True, emails=emails, welcome=broken)
    check = manage(project, "check")
    assert check.returncode == 1
    assert "(txmail.E010) shop.Receipt's template 'shop/receipt' does not exist" in check.stderr
    assert "(txmail.E011)" in check.stderr
    migrate = manage(project, "migrate")
    assert migrate.returncode == 0, migrate.stderr
    assert "Applying txmail.0007_delivery_secret_body... OK" in migrate.stdout
    assert "txmail.E0" not in migrate.stdout + migrate.stderr
    makemigrations = manage(project, "makemigrations", "--check", "--dry-run")
    assert makemigrations.returncode == 0, makemigrations.stderr
    assert manage(project, "check", "--database", "default").returncode == 1  # still wrong


def test_check_with_the_database_names_unapplied_migrations_and_the_fix(tmp_path):
    project = make_project(tmp_path)
    assert manage(project, "check").returncode == 0  # the database is read only on request
    fresh = manage(project, "check", "--database", "default")
    assert fresh.returncode == 1
    assert ("settings.DATABASES['default']: (txmail.E006) The database 'default' lacks "
            "tables: N migrations of 'django_tasks_database' and N migrations of 'txmail' "
            f"are not applied: send() and enqueue() fail until they are. {FIX}"
            ) in counted(fresh.stderr)
    assert manage(project, "migrate", "txmail").returncode == 0
    half = manage(project, "check", "--database", "default")
    assert ("(txmail.E006) The database 'default' lacks tables: N migrations of "
            "'django_tasks_database' are not applied: queued messages aren't handed to the "
            f"task backend until they are. {FIX}") in counted(half.stderr)
    assert manage(project, "migrate").returncode == 0
    done = manage(project, "check", "--database", "default")
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize("method", ["send", "enqueue"])
def test_sending_before_migrate_says_to_run_it(tmp_path, method):
    project = make_project(tmp_path)
    result = shell(project, SEND.format(method))
    assert result.returncode == 1
    last = counted(result.stderr.strip().splitlines()[-1])
    assert last.startswith("txmail.exceptions.NotMigrated: The database 'default' lacks "
                           "tables: N migrations of 'txmail' are not applied "
                           "(OperationalError: no such table: txmail_")
    assert last.endswith(FIX)


def test_enqueue_without_the_task_backends_tables_logs_one_line_and_the_row_waits(tmp_path):
    project = make_project(tmp_path)
    assert manage(project, "migrate", "txmail").returncode == 0
    result = shell(project, SEND.format("enqueue") + "\n"
                   "from txmail.delivery.models import Delivery\n"
                   "print(list(Delivery.objects.values_list('status', 'needs_handoff')))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[('queued', True)]"  # the sweep hands it off later
    assert "Traceback" not in result.stderr
    assert counted(result.stderr.strip()) == (
        "txmail: could not hand delivery 1 to task backend 'default': The database "
        "'default' lacks tables: N migrations of 'django_tasks_database' are not applied "
        "(OperationalError: no such table: django_tasks_database_dbtaskresult). Run "
        "`python manage.py migrate`. It stays queued and the sweep (`manage.py txmail "
        "sweep`) hands it off again.")


NOT_INSTALLED = ("txmail is used but 'txmail' is not in settings.INSTALLED_APPS, so its "
                 "models, templates, template tags and system checks are not loaded and no "
                 "app's emails.py is discovered. Add 'txmail' to INSTALLED_APPS, then run "
                 "`python manage.py migrate`.")


def test_txmail_not_installed_is_a_check_error_through_its_urls(tmp_path):
    project = make_project(tmp_path, installed=False)
    check = manage(project, "check")
    assert check.returncode == 1
    assert check.stderr.count("txmail.E005") == 1
    assert f"settings.INSTALLED_APPS: (txmail.E005) {NOT_INSTALLED}" in check.stderr


def test_txmail_not_installed_is_a_check_error_when_imported_at_startup(tmp_path):
    project = make_project(tmp_path, installed=False)
    (project / "urls.py").write_text("urlpatterns = []\n")
    (project / "shop" / "models.py").write_text("from shop.emails import Welcome  # noqa\n")
    check = manage(project, "check")
    assert check.returncode == 1
    assert f"settings.INSTALLED_APPS: (txmail.E005) {NOT_INSTALLED}" in check.stderr


def test_txmail_not_installed_sends_and_previews_say_so(tmp_path):
    project = make_project(tmp_path, installed=False, debug=True)
    send = shell(project, SEND.format("send"))
    assert send.stderr.strip().splitlines()[-1] == (
        f"txmail.exceptions.NotInstalled: {NOT_INSTALLED}")
    page = shell(project, "from django.test import Client\n"
                          "print(Client(raise_request_exception=False).get('/emails/')"
                          ".status_code)\n"
                          "Client().get('/emails/shop.Welcome/default/')")
    assert page.stdout.strip() == "500"
    assert page.stderr.strip().splitlines()[-1] == (
        f"txmail.exceptions.NotInstalled: {NOT_INSTALLED}")
