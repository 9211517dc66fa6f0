"""Engine and session factory, with SQLite taken seriously (DESIGN.md §5).

SQLite: WAL, `synchronous=NORMAL`, foreign keys on, a busy timeout, and every write transaction
opened with `BEGIN IMMEDIATE` while holding one process-wide writer lock, so concurrent requests
queue for the write lock instead of failing with "database is locked". Reads never take the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from dagy.server.db.batching import GroupCommit

# Group-commit batches in flight on PostgreSQL: two overlap one batch's round trips and commit flush
# with another's; more split the waiting units into smaller batches, each paying its own commit and
# NOTIFY (measured on 2 cores: 1-2 writers 550-585 creates/s at 10 connections, 4 writers 500-565).
POSTGRES_GROUP_WRITERS = 2


@dataclass
class Database:
    """One engine, its session factory, and the writer lock SQLite needs."""

    engine: Engine
    sessions: sessionmaker[Session]
    is_sqlite: bool
    writer_lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on error, always close.

        `write=True` on SQLite holds the writer lock and begins with `BEGIN IMMEDIATE`.
        """
        lock = self.writer_lock if (write and self.is_sqlite) else None
        if lock is not None:
            lock.acquire()
        session = self.sessions()
        try:
            if lock is not None:
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            if lock is not None:
                lock.release()

    @cached_property
    def group_commit(self) -> GroupCommit:
        """Concurrent writes that may share one transaction (db/batching.py): one batch at a time on
        SQLite (one writer anyway), a few at once on PostgreSQL."""
        return GroupCommit(self, writers=1 if self.is_sqlite else POSTGRES_GROUP_WRITERS)

    def dispose(self) -> None:
        self.engine.dispose()


def create_database(url: str, *, echo: bool = False) -> Database:
    is_sqlite = url.startswith("sqlite")
    kwargs: dict[str, Any] = {"echo": echo}
    if is_sqlite:
        kwargs |= {
            "connect_args": {"check_same_thread": False, "timeout": 30, "isolation_level": None},
            "poolclass": QueuePool,
            "pool_size": 16,
            "max_overflow": 16,
        }
    else:
        kwargs |= {"pool_size": 10, "max_overflow": 20, "pool_pre_ping": True}
    engine = create_engine(url, **kwargs)
    if is_sqlite:
        _configure_sqlite(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    return Database(engine=engine, sessions=sessions, is_sqlite=is_sqlite)


def _configure_sqlite(engine: Engine) -> None:
    """Pragmas on connect; explicit BEGIN so SQLAlchemy, not pysqlite, owns transactions."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")
