"""The worker table: upserted by claims, touched by heartbeats, read by `GET /workers` and a queued
run's status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dagy.server.db.models import Worker

_CHANGING = ("executor", "concurrency", "isolation", "last_seen_at")


def upsert(session: Session, values: dict[str, Any]) -> None:
    """Insert the worker, or change what a claim says of it (`first_seen_at` stays)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        on_postgres = postgresql_insert(Worker).values(**values)
        excluded = on_postgres.excluded
        stmt: Executable = on_postgres.on_conflict_do_update(
            index_elements=[Worker.id], set_={key: excluded[key] for key in _CHANGING}
        )
    else:
        on_sqlite = sqlite_insert(Worker).values(**values)
        stmt = on_sqlite.on_conflict_do_update(
            index_elements=[Worker.id], set_={key: on_sqlite.excluded[key] for key in _CHANGING}
        )
    connection.execute(stmt)


def touch(session: Session, worker_key: str, now: datetime) -> None:
    stmt = update(Worker).where(Worker.id == worker_key).values(last_seen_at=now)
    session.execute(stmt.execution_options(synchronize_session=False))


def seen_since(
    session: Session, org_id: str, since: datetime, *, executor: str | None = None
) -> Sequence[Worker]:
    """The workers that serve `org_id` (its own and the installation's) seen since `since`, most
    recently seen first."""
    stmt = select(Worker).where(
        or_(Worker.org_id.is_(None), Worker.org_id == org_id), Worker.last_seen_at >= since
    )
    if executor is not None:
        stmt = stmt.where(Worker.executor == executor)
    return session.execute(stmt.order_by(Worker.last_seen_at.desc(), Worker.id)).scalars().all()
