"""The read path for lists: one Core statement on an autocommit, read-only connection.

A list page needs neither a Session (identity map, per-row ORM objects, flush and commit
machinery) nor an explicit transaction: it is one SELECT, and one statement always reads one
consistent snapshot. `ReadDatabase.run(fn, ...)` calls a synchronous service function with, as
first argument, a SQLAlchemy `Connection` of its own engine, which is in autocommit mode and refuses
writes (`PRAGMA query_only` on SQLite, read-only session characteristics on PostgreSQL), so the
database sees the SELECT alone: no BEGIN, no COMMIT, no pre-ping.

Where the statement runs (docs/adr/0007-list-read-path.md):
- SQLite: inline on the event loop, on one dedicated connection (in autocommit no statement
  leaves a transaction open on it between reads). A WAL reader never waits for a
  writer, and a page is a bounded indexed read of ~0.1 ms, cheaper than the thread hop it
  saves. That connection has no busy timeout: in the rare moments a WAL reader must wait (WAL
  recovery, another process holding the file exclusively, a database not in WAL mode while a
  writer commits) the read fails at once and is retried in a worker thread, which may wait.
- PostgreSQL: on the event loop too, without blocking it: the engine is SQLAlchemy's asyncio
  engine over psycopg's async connection, and `AsyncConnection.run_sync` runs the synchronous
  function in a greenlet whose statements await the network. A read costs no thread hop (the
  hand-off to a worker thread and back, with its wait for the GIL, cost more than the query on a
  busy server), and while PostgreSQL answers, the loop serves other requests. Without pre-ping a
  connection that died while idle in the pool (a restarted server) fails its first statement;
  the pool discards it and the read is retried once.

Only functions that read may run here: the connection cannot write.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

import anyio.to_thread
import orjson
from sqlalchemy import Connection, DateTime, Engine, TypeDecorator, create_engine, event, type_coerce
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.elements import Label

P = ParamSpec("P")
R = TypeVar("R")

# How these connections appear in PostgreSQL's `pg_stat_activity`.
APPLICATION_NAME = "dagy-reads"


class ReadDatabase:
    """Read-only connections for list pages, beside the `Database` that serves units of work."""

    def __init__(self, url: str | URL) -> None:
        self.inline = make_url(url).get_backend_name() == "sqlite"
        self.async_engine = None if self.inline else _postgres_read_engine(url)
        self.engine = _sqlite_read_engine(url) if self.async_engine is None else self.async_engine.sync_engine
        self._inline_connection: Connection | None = None
        # Held only while a function runs inline: inline reads never overlap on one event loop,
        # but one app may be driven by several loops (tests), which then take the thread path.
        self._inline_lock = threading.Lock()

    async def run(
        self, fn: Callable[Concatenate[Connection, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """`fn(connection, *args, **kwargs)`: inline on SQLite (in a worker thread when the database
        asks the reader to wait), on the event loop through the asyncio engine on PostgreSQL."""

        def call(connection: Connection) -> R:
            return fn(connection, *args, **kwargs)

        if self.inline and self._inline_lock.acquire(blocking=False):
            try:
                return self._run_inline(call)
            except OperationalError:
                pass  # the database asked this reader to wait: the thread path may
            finally:
                self._inline_lock.release()
        if self.async_engine is not None:
            return await self._run_async(self.async_engine, call)
        return await anyio.to_thread.run_sync(self._run_pooled, call)

    async def _run_async(self, engine: AsyncEngine, call: Callable[[Connection], R]) -> R:
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(call)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        async with engine.connect() as connection:  # a dead pooled connection: once more, on a new one
            return await connection.run_sync(call)

    def _run_inline(self, call: Callable[[Connection], R]) -> R:
        connection = self._inline_connection
        if connection is None or connection.closed or connection.invalidated:
            connection = self._inline_connection = self.engine.connect()
            connection.exec_driver_sql("PRAGMA busy_timeout=0")
        try:
            return call(connection)
        except BaseException:
            connection.rollback()  # clears SQLAlchemy's state after a failed statement
            raise

    def _run_pooled(self, call: Callable[[Connection], R]) -> R:
        with self.engine.connect() as connection:
            return call(connection)

    def dispose(self) -> None:
        with self._inline_lock:
            if self._inline_connection is not None:
                self._inline_connection.close()
                self._inline_connection = None
        if self.async_engine is None:
            self.engine.dispose()
            return
        # Closing an async connection awaits; psycopg's are not bound to the loop that opened them,
        # so they are closed on a loop of their own, whether or not one runs in this thread.
        closer = threading.Thread(target=asyncio.run, args=(self.async_engine.dispose(),))
        closer.start()
        closer.join()

    def dispose_with(self, engine: Engine) -> ReadDatabase:
        """Dispose of these connections when `engine` (the unit-of-work engine) is disposed."""
        event.listen(engine, "engine_disposed", lambda _engine: self.dispose())
        return self


class UTCTimestamp(TypeDecorator[datetime]):
    """A `UTCDateTime` column as a list page reads it: the same aware UTC datetimes, in one step
    instead of three (parse, then `replace(tzinfo=...)`, itself ~1.5 us, through two wrappers).

    SQLite keeps UTC as `YYYY-MM-DD HH:MM:SS.ffffff` text, parsed with its offset in one call;
    read connections to PostgreSQL run in the UTC time zone, so psycopg already answers datetimes
    in `UTC` and only a value in another zone (another connection's) is converted."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], datetime | None]:
        return _utc_from_text if dialect.name == "sqlite" else _utc_from_aware


def read_timestamp(column: InstrumentedAttribute[Any]) -> Label[Any]:
    """`column` selected under its own name, read as `UTCTimestamp`."""
    return type_coerce(column, UTCTimestamp()).label(column.key)


def _utc_from_text(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value + "+00:00")
    except ValueError:  # text written with its own offset
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _utc_from_aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


_LONG_DIGITS = re.compile(r"\d{19}")
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")


def _json_loads(text: str | bytes) -> Any:
    """JSON columns, decoded by orjson (several times faster than `json.loads` on a page's tags).
    What orjson gets wrong or refuses but the stdlib wrote goes to `json`: a run of 19 digits or
    more may be an integer past 64 bits, which orjson answers as a float (2**70 would become
    1.1805916207174113e+21); NaN it refuses."""
    long_digits = _LONG_DIGITS.search(text) if isinstance(text, str) else _LONG_DIGITS_BYTES.search(text)
    if long_digits:
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _sqlite_read_engine(url: str | URL) -> Engine:
    engine = create_engine(
        url,
        json_deserializer=_json_loads,
        connect_args={"check_same_thread": False, "timeout": 30},
        poolclass=QueuePool,
        pool_size=8,
        max_overflow=8,
        isolation_level="AUTOCOMMIT",
        pool_reset_on_return=None,
    )
    event.listen(engine, "connect", _sqlite_read_only)
    return engine


def _postgres_read_engine(url: str | URL) -> AsyncEngine:
    """psycopg's async connections (`postgresql+psycopg` names both of its APIs)."""
    engine = create_async_engine(
        make_url(url).set(drivername="postgresql+psycopg"),
        connect_args={"application_name": APPLICATION_NAME},
        json_deserializer=_json_loads,
        pool_size=5,
        max_overflow=15,
        isolation_level="AUTOCOMMIT",
        pool_reset_on_return=None,
    )
    event.listen(engine.sync_engine, "connect", _postgres_read_only)
    return engine


def _sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _postgres_read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cursor.execute("SET TIME ZONE 'UTC'")  # timestamps arrive as UTC: see UTCTimestamp
    cursor.close()
    dbapi_connection.commit()
