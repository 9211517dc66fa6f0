"""Inserting many rows at once, a row whose unique key is already taken skipped
(`INSERT ... ON CONFLICT DO NOTHING`): scheduler batches, their runs and fire rows.

One short statement executed for every row (executemany): psycopg pipelines it and parses it once,
SQLite loops in C. SQLAlchemy's alternative, one multi-row VALUES statement with `RETURNING`, has
several thousand placeholders that psycopg parses again on every batch, which cost more than the
database's own work. Which rows went in is told by the row count; only when some were skipped are
their ids read back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Insert, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

_INSERT: dict[str, Callable[[Table], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql_insert,
    "sqlite": sqlite_insert,
}


def insert_new(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert `rows` (complete rows, each with its `id`, all with the same keys), skipping those a
    unique key refuses; the ids of the rows inserted."""
    if not rows:
        return set()
    ids = [row["id"] for row in rows]
    result = connection.execute(_insert(connection.dialect.name, table), list(rows))
    if result.rowcount == len(rows):
        return set(ids)
    return set(connection.execute(select(table.c.id).where(table.c.id.in_(ids))).scalars())


@cache
def _insert(dialect: str, table: Table) -> Insert:
    return _INSERT[dialect](table).on_conflict_do_nothing()
