"""The queue's queries: lock-safe claims and leases (DESIGN.md §3, CONVENTIONS.md §5).

`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent claims pass each other by; SQLite ignores
the clause and is safe because every write transaction there is `BEGIN IMMEDIATE` under one lock.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from dagy.server.db.models import (
    CustomNode,
    Deployment,
    Environment,
    Flow,
    FlowVersion,
    NodeRun,
    Run,
    RunEvent,
    RunLog,
)
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


def get_run(session: Session, run_id: str, *, org_id: str | None) -> Run | None:
    stmt = select(Run).where(Run.id == run_id)
    if org_id is not None:
        stmt = stmt.where(Run.org_id == org_id)
    return session.execute(stmt).scalar_one_or_none()


def deployment_environment(session: Session, org_id: str, deployment_name: str) -> Environment | None:
    """The environment a deployment places its flow in, if it names one."""
    stmt = (
        select(Environment)
        .join(Deployment, Deployment.environment_id == Environment.id)
        .where(Deployment.org_id == org_id, Deployment.name == deployment_name)
    )
    return session.execute(stmt).scalar_one_or_none()


def completed_node_outputs(session: Session, run_id: str, *, before_attempt: int) -> dict[str, Any]:
    """node_id -> output of the nodes completed by attempts before `before_attempt`; the latest wins."""
    stmt = (
        select(NodeRun.node_id, NodeRun.output)
        .where(NodeRun.run_id == run_id, NodeRun.attempt < before_attempt, NodeRun.status == "completed")
        .order_by(NodeRun.attempt)
    )
    return {node_id: output for node_id, output in session.execute(stmt)}


def custom_node_import_paths(session: Session, org_id: str, node_types: set[str]) -> dict[str, str]:
    """node_type -> import path of the org's custom node types among `node_types` that have one."""
    if not node_types:
        return {}
    stmt = select(CustomNode.node_type, CustomNode.definition).where(
        CustomNode.org_id == org_id, CustomNode.node_type.in_(sorted(node_types))
    )
    return {
        node_type: str(definition["import_path"])
        for node_type, definition in session.execute(stmt)
        if definition.get("import_path")
    }


def get_flow_version(
    session: Session, org_id: str, flow_name: str, version: str | None
) -> tuple[str, FlowVersion] | None:
    """(flow name, version) of the org's flow: the labelled version, else the flow's latest."""
    label = Flow.latest_version if version is None else version
    stmt = (
        select(Flow.name, FlowVersion)
        .join(FlowVersion, FlowVersion.flow_id == Flow.id)
        .where(Flow.org_id == org_id, Flow.name == flow_name, FlowVersion.version == label)
    )
    row = session.execute(stmt).one_or_none()
    return (row[0], row[1]) if row is not None else None


def node_run_states(
    session: Session, run_id: str, attempt: int, node_ids: Collection[str]
) -> dict[str, dict[str, Any]]:
    """node_id -> {id, status, tries, started_at} of the attempt's recorded node runs among `node_ids`."""
    if not node_ids:
        return {}
    stmt = select(NodeRun.id, NodeRun.node_id, NodeRun.status, NodeRun.tries, NodeRun.started_at).where(
        NodeRun.run_id == run_id, NodeRun.attempt == attempt, NodeRun.node_id.in_(list(node_ids))
    )
    return {row.node_id: row._asdict() for row in session.execute(stmt)}


def insert_node_runs(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """One INSERT for the batch (executemany)."""
    if rows:
        session.execute(insert(NodeRun), list(rows))


def update_node_runs(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """One UPDATE by primary key for the batch (executemany); each row carries `id`."""
    if rows:
        session.execute(update(NodeRun), list(rows))


def insert_run_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(RunEvent), list(rows))


def add_all(session: Session, objects: Sequence[RunLog]) -> None:
    session.add_all(objects)
    session.flush()
