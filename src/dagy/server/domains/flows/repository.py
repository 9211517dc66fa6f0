"""Queries for flows and flow versions, always scoped by org id."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dagy.server.db.models import Flow, FlowVersion


def get_flow(session: Session, org_id: str, name: str) -> Flow | None:
    stmt = select(Flow).where(Flow.org_id == org_id, Flow.name == name)
    return session.execute(stmt).scalar_one_or_none()


def add(session: Session, obj: Flow | FlowVersion) -> None:
    session.add(obj)
    session.flush()


def get_version(session: Session, org_id: str, flow_id: str, version: str) -> FlowVersion | None:
    stmt = select(FlowVersion).where(
        FlowVersion.org_id == org_id, FlowVersion.flow_id == flow_id, FlowVersion.version == version
    )
    return session.execute(stmt).scalar_one_or_none()


def get_latest_version(session: Session, org_id: str, flow_id: str) -> FlowVersion | None:
    stmt = (
        select(FlowVersion)
        .where(FlowVersion.org_id == org_id, FlowVersion.flow_id == flow_id)
        .order_by(FlowVersion.deployment_version.desc())
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def max_deployment_version(session: Session, org_id: str, flow_id: str) -> int:
    stmt = select(func.max(FlowVersion.deployment_version)).where(
        FlowVersion.org_id == org_id, FlowVersion.flow_id == flow_id
    )
    return int(session.execute(stmt).scalar_one() or 0)
