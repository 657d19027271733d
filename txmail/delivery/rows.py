"""The per-message row writes of a worker's hot path, as SQL built once per shape.

``QuerySet.update()`` compiles its SQL on every call: ~0.3 ms of a worker's CPU per
statement, half of what sending the message over SMTP costs. A worker makes two such
writes per message (the hand-over stamp, the outcome), always the same columns under
the same conditions, so the statement is built once per (database, columns,
conditions) and only the values are adapted each time, by the fields themselves
(``get_db_prep_save``: JSON, datetimes in the database's form). Same rows, same
errors (Django's cursor wraps them), same transactions as ``update()``.
"""

from collections.abc import Iterable
from typing import Any

from django.db import connections, router, transaction

from .models import Body, Delivery

_statements: dict[tuple[Any, ...], str] = {}


def update(pk: int, where: dict[str, Any], values: dict[str, Any], *,
           increment: Iterable[str] = ()) -> int:
    """``UPDATE`` row ``pk`` (while the ``where`` columns equal their values); return the count.

    ``values`` are the columns to set; the columns in ``increment`` are increased by
    one as ``F(name) + 1`` would. ``raw=None`` among ``values`` drops the row's body
    (``Body``) in the same transaction, if the row was updated.
    """
    if "raw" in values:
        values = dict(values)
        if values.pop("raw") is not None:
            raise ValueError("rows.update() only drops a body (raw=None); save() stores one.")
        # No savepoint inside the caller's transaction: two statements fewer a row,
        # and the caller's transaction is rolled back whole if either fails.
        with transaction.atomic(using=router.db_for_write(Delivery), savepoint=False):
            count = update(pk, where, values, increment=increment)
            if count:
                drop_body(pk)
            return count
    alias = router.db_for_write(Delivery)
    connection = connections[alias]
    increment = tuple(increment)
    key = (alias, tuple(values), tuple(where), increment)
    sql = _statements.get(key)
    if sql is None:
        sql = _statements[key] = _build(connection, tuple(values), tuple(where), increment)
    field = Delivery._meta.get_field
    params = [field(name).get_db_prep_save(value, connection)  # type: ignore[union-attr]
              for name, value in values.items()]
    params.append(pk)
    params.extend(field(name).get_db_prep_save(value, connection)  # type: ignore[union-attr]
                  for name, value in where.items())
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def update_each(changes: list[tuple[int, str, dict[str, Any]]]) -> list[int]:
    """Set each ``(pk, token, values)``'s columns while row ``pk`` is claimed by ``token``,
    in one ``executemany`` per shape of ``values``; return the pks updated.

    For many rows' outcomes at once (``outcomes``): the caller holds the transaction.
    ``raw`` is not among ``values``: ``drop_bodies()`` drops the bodies after.
    """
    alias = router.db_for_write(Delivery)
    connection = connections[alias]
    field = Delivery._meta.get_field
    shapes: dict[tuple[str, ...], list[list[Any]]] = {}
    for pk, token, values in changes:
        params = [field(name).get_db_prep_save(value, connection)  # type: ignore[union-attr]
                  for name, value in values.items()]
        shapes.setdefault(tuple(values), []).append([*params, pk, token])
    expected = 0
    with connection.cursor() as cursor:
        for names, many in shapes.items():
            key = (alias, names, ("claim_token",), ())
            sql = _statements.get(key)
            if sql is None:
                sql = _statements[key] = _build(connection, names, ("claim_token",), ())
            cursor.executemany(sql, many)
            expected += len(many)
        updated = cursor.rowcount if len(shapes) == 1 else -1
    pks = [pk for pk, _token, _values in changes]
    if updated == expected:
        return pks
    # Not every row (or a driver that doesn't sum executemany's counts): the rows now
    # ended are the ones this call updated, as no one else writes those values
    # to a claimed row.
    ended = {values["status"] for _pk, _token, values in changes}
    return list(Delivery.objects.using(alias).filter(pk__in=pks, status__in=ended,
                                                     claim_token="")
                .values_list("pk", flat=True))


def drop_bodies(pks: list[int]) -> None:
    """Delete the bodies of rows ``pks`` (those that have one), in one statement."""
    if not pks:
        return
    connection, sql = _by_pk(router.db_for_write(Body), "drop bodies", Body,
                             "DELETE FROM {table} WHERE {pk} IN ({marks})")
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("{marks}", ", ".join(["%s"] * len(pks))), pks)


def _by_pk(alias: str, name: str, model: Any, template: str) -> tuple[Any, str]:
    """The connection of ``alias`` and statement ``name`` on ``model``'s table, built once:
    ``template`` with ``{table}``, ``{pk}`` and ``{status}`` quoted."""
    connection = connections[alias]
    key = (alias, name)
    sql = _statements.get(key)
    if sql is None:
        quote = connection.ops.quote_name
        sql = _statements[key] = template.format(
            table=quote(model._meta.db_table), pk=quote(model._meta.pk.column),
            status=quote("status"), marks="{marks}")
    return connection, sql


def status_of(pk: int) -> str | None:
    """Row ``pk``'s status (None: no such row), in one statement built once."""
    connection, sql = _by_pk(router.db_for_read(Delivery), "status", Delivery,
                             "SELECT {status} FROM {table} WHERE {pk} = %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        found = cursor.fetchone()
    return None if found is None else str(found[0])


def drop_body(pk: int) -> None:
    """Delete row ``pk``'s body, if it has one."""
    connection, sql = _by_pk(router.db_for_write(Body), "drop body", Body,
                             "DELETE FROM {table} WHERE {pk} = %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])


def _build(connection: Any, values: tuple[str, ...], where: tuple[str, ...],
           increment: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    meta = Delivery._meta

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)  # type: ignore[union-attr]

    sets = [f"{column(name)} = %s" for name in values]
    sets += [f"{column(name)} = {column(name)} + 1" for name in increment]
    conditions = [f"{quote(meta.pk.column)} = %s"]
    conditions += [f"{column(name)} = %s" for name in where]
    return (f"UPDATE {quote(meta.db_table)} SET {', '.join(sets)} "
            f"WHERE {' AND '.join(conditions)}")
