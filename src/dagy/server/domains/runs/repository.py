"""Queries for runs, their logs and node runs, always scoped by org id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dagy.server.db.models import NodeRun, Run, RunLog


def get_run(session: Session, org_id: str, run_id: str) -> Run | None:
    stmt = select(Run).where(Run.org_id == org_id, Run.id == run_id)
    return session.execute(stmt).scalar_one_or_none()


def get_run_by_idempotency_key(session: Session, org_id: str, key: str) -> Run | None:
    stmt = select(Run).where(Run.org_id == org_id, Run.idempotency_key == key)
    return session.execute(stmt).scalar_one_or_none()


def slug_taken(session: Session, org_id: str, slug: str) -> bool:
    stmt = select(Run.id).where(Run.org_id == org_id, Run.run_slug == slug).limit(1)
    return session.execute(stmt).first() is not None


def add(session: Session, obj: Run | RunLog | NodeRun) -> None:
    session.add(obj)
    session.flush()


def runs_query(org_id: str, *, flow_name: str | None, status: str | None) -> Select[Any]:
    stmt = select(Run).where(Run.org_id == org_id)
    if flow_name is not None:
        stmt = stmt.where(Run.flow_name == flow_name)
    if status is not None:
        stmt = stmt.where(Run.status == status)
    return stmt


def list_logs(session: Session, run_id: str, *, after_id: int, limit: int) -> list[RunLog]:
    """Log lines in the order they arrived, strictly after `after_id` (the keyset of a log tail)."""
    stmt = (
        select(RunLog).where(RunLog.run_id == run_id, RunLog.id > after_id).order_by(RunLog.id).limit(limit)
    )
    return list(session.execute(stmt).scalars())


def list_node_runs(session: Session, run_id: str) -> list[NodeRun]:
    stmt = select(NodeRun).where(NodeRun.run_id == run_id).order_by(NodeRun.attempt, NodeRun.id)
    return list(session.execute(stmt).scalars())
