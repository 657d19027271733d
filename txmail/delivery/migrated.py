"""Whether the database has txmail's tables (and its task backend's): the fix when not.

A project that installed txmail but didn't run ``migrate`` fails its first
``send()`` with ``OperationalError: no such table: txmail_suppression`` and
its ``enqueue()`` hands off to a django-tasks-db table that doesn't exist.
``explain`` turns such a database error into ``NotMigrated`` saying what to
run; ``unapplied`` is what the system check (txmail.E006) reads.
"""

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connections, router
from django.tasks import task_backends

from ..exceptions import NotMigrated

FIX = "Run `python manage.py migrate`."


def task_apps() -> set[str]:
    """Labels of the installed apps whose models back a configured TASKS backend.

    django-tasks-db's backend keeps its tasks in the app ``django_tasks_db``:
    an app with migrations, like txmail's own.
    """
    labels = set()
    for alias in getattr(settings, "TASKS", {}) or {}:
        try:
            backend = task_backends[alias]
        except Exception:  # a bad TASKS entry is Django's check to report
            continue
        app = apps.get_containing_app_config(type(backend).__module__)
        if app is not None and app.label != "txmail":
            labels.add(app.label)
    return labels


def unapplied(using: str, labels: set[str]) -> dict[str, int]:
    """``{app label: migrations not applied}`` on database ``using``, for ``labels``."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[using])
    graph = executor.loader.graph
    targets = [node for node in graph.leaf_nodes() if node[0] in labels
               and router.allow_migrate(using, node[0])]
    counts: dict[str, int] = {}
    for migration, _backwards in executor.migration_plan(targets):
        if migration.app_label in labels:
            counts[migration.app_label] = counts.get(migration.app_label, 0) + 1
    return counts


def describe(using: str, counts: dict[str, int]) -> str:
    """"the database 'default' lacks tables: 7 migrations of 'txmail' are not applied"."""
    parts = [f"{n} migration{'s' if n != 1 else ''} of {label!r}"
             for label, n in sorted(counts.items())]
    verb = "is" if len(parts) == 1 and next(iter(counts.values())) == 1 else "are"
    return f"the database {using!r} lacks tables: {' and '.join(parts)} {verb} not applied"


def database_of(label: str) -> str:
    """The database app ``label``'s models are written to (the router's choice)."""
    models = list(apps.get_app_config(label).get_models())
    return router.db_for_write(models[0]) if models else "default"


def explain(exc: BaseException, labels: set[str] | None = None) -> NotMigrated | None:
    """``NotMigrated`` for a database error caused by unapplied migrations, else None.

    ``labels``: txmail and its task backends' apps by default. Asked only after
    an error, so sends that work never read the migrations.
    """
    if not isinstance(exc, DatabaseError):
        return None
    labels = {"txmail", *task_apps()} if labels is None else labels
    said = []
    try:
        by_database: dict[str, set[str]] = {}
        for label in labels:
            by_database.setdefault(database_of(label), set()).add(label)
        for using, those in sorted(by_database.items()):
            if counts := unapplied(using, those):
                said.append(describe(using, counts))
    except Exception:  # e.g. a transaction the error aborted: the original says more
        return None
    if not said:
        return None
    text = "; ".join(said)
    return NotMigrated(f"{text[0].upper()}{text[1:]} ({type(exc).__name__}: {exc}). {FIX}")


__all__ = ["FIX", "database_of", "describe", "explain", "task_apps", "unapplied"]
