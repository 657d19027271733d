"""Checks that stand aside while the project is being set up, and the migrations check (E006).

Django runs every system check before ``migrate`` and ``makemigrations``
(``migrate`` the ``database``-tagged ones too, on its database). Those
commands create what the template and database checks look for, so a
missing template or an unapplied migration must not stop them: the checks
that need templates or the database return nothing while one of them runs.
"""

import sys
from typing import Any

from django.core import checks
from django.core.management.base import BaseCommand

from ..delivery import migrated

# Django's commands that make or show the schema; every one runs the checks.
SCHEMA_COMMANDS = frozenset({"migrate", "makemigrations", "showmigrations", "sqlmigrate",
                             "squashmigrations", "optimizemigration"})


def running_command() -> str | None:
    """The name of the management command whose checks are running, if any.

    Read from the call stack (``BaseCommand.execute`` → ``check``): the same
    for ``manage.py migrate`` and ``call_command("migrate")``.
    """
    frame = sys._getframe(1)
    while frame is not None:
        command = frame.f_locals.get("self")
        if isinstance(command, BaseCommand):
            return type(command).__module__.rpartition(".")[2]
        frame = frame.f_back  # type: ignore[assignment]
    return None


def setting_up() -> bool:
    """Whether a command that creates tables or migrations is running its checks."""
    return running_command() in SCHEMA_COMMANDS


@checks.register(checks.Tags.database)
def check_migrations(app_configs: Any = None, databases: Any = None, **kwargs: Any
                     ) -> list[checks.CheckMessage]:
    """txmail's migrations and its task backend's must be applied (``check --database``)."""
    if not databases or setting_up():
        return []
    labels = {"txmail", *migrated.task_apps()}
    found: list[checks.CheckMessage] = []
    by_database: dict[str, set[str]] = {}
    for label in labels:
        by_database.setdefault(migrated.database_of(label), set()).add(label)
    for using, those in sorted(by_database.items()):
        if using not in databases:
            continue
        try:
            counts = migrated.unapplied(using, those)
        except Exception as exc:  # a check reports; it must not stop startup
            found.append(checks.Error(
                f"txmail could not read the migrations applied to the database {using!r} "
                f"({type(exc).__name__}: {exc}). Check settings.DATABASES[{using!r}].",
                obj=f"settings.DATABASES[{using!r}]", id="txmail.E006"))
            continue
        if counts:
            said = migrated.describe(using, counts)
            effect = ("send() and enqueue() fail" if "txmail" in counts else
                      "queued messages aren't handed to the task backend")
            found.append(checks.Error(
                f"{said[0].upper()}{said[1:]}: {effect} until they are. {migrated.FIX}",
                obj=f"settings.DATABASES[{using!r}]", id="txmail.E006"))
    return found
