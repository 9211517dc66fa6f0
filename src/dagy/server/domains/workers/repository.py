"""The queue's queries: lock-safe claims and leases (DESIGN.md §3, CONVENTIONS.md §5).

`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent claims pass each other by; SQLite ignores
the clause and is safe because every write transaction there is `BEGIN IMMEDIATE` under one lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dagy.server.db.models import FlowVersion, NodeRun, Run, RunLog
from dagy.server.orchestration import RunState


def database_now(session: Session) -> datetime:
    """Lease times use the database clock, so servers with skewed clocks agree on who expired.
    SQLite is embedded: its clock is this host's."""
    if session.get_bind().dialect.name == "sqlite":
        return datetime.now(UTC)
    value: datetime = session.execute(select(func.now())).scalar_one()
    return value.astimezone(UTC)


def lock_queued_runs(session: Session, *, executor: str, limit: int, org_id: str | None) -> list[Run]:
    stmt = select(Run).where(Run.status == RunState.QUEUED, Run.executor == executor)
    if org_id is not None:
        stmt = stmt.where(Run.org_id == org_id)
    stmt = stmt.order_by(Run.priority, Run.created_at, Run.id).limit(limit).with_for_update(skip_locked=True)
    return list(session.execute(stmt).scalars())


def lock_expired_leases(session: Session, *, now: datetime, limit: int) -> list[Run]:
    stmt = (
        select(Run)
        .where(Run.status == RunState.RUNNING, Run.lease_expires_at < now)
        .order_by(Run.lease_expires_at, Run.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.execute(stmt).scalars())


def lock_run(session: Session, run_id: str, *, org_id: str | None) -> Run | None:
    stmt = select(Run).where(Run.id == run_id)
    if org_id is not None:
        stmt = stmt.where(Run.org_id == org_id)
    return session.execute(stmt.with_for_update()).scalar_one_or_none()


def flow_versions(session: Session, ids: Sequence[str]) -> dict[str, FlowVersion]:
    if not ids:
        return {}
    rows = session.execute(select(FlowVersion).where(FlowVersion.id.in_(ids))).scalars()
    return {fv.id: fv for fv in rows}


def get_node_run(session: Session, run_id: str, attempt: int, node_id: str) -> NodeRun | None:
    stmt = select(NodeRun).where(
        NodeRun.run_id == run_id, NodeRun.attempt == attempt, NodeRun.node_id == node_id
    )
    return session.execute(stmt).scalar_one_or_none()


def add_all(session: Session, objects: Sequence[RunLog | NodeRun]) -> None:
    session.add_all(objects)
    session.flush()
