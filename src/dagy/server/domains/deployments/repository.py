"""Queries for deployments, always scoped by org id."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dagy.server.db.models import Deployment, Environment, Flow, FlowVersion

PAGE_COLUMNS = (
    "schedule",
    "default_executor",
    "execution_mode",
    "tags",
    "dep_package_slugs",
    "max_retries",
    "status",
    "created_at",
    "updated_at",
    "promoted_from_env",
    "promoted_from_deployment",
    "promoted_at",
)


def get_deployment(session: Session, org_id: str, name: str) -> Deployment | None:
    stmt = select(Deployment).where(Deployment.org_id == org_id, Deployment.name == name)
    return session.execute(stmt).scalar_one_or_none()


def list_query(org_id: str, environment_id: str | None) -> Select[tuple[Deployment]]:
    stmt = select(Deployment).where(Deployment.org_id == org_id)
    if environment_id is not None:
        stmt = stmt.where(Deployment.environment_id == environment_id)
    return stmt


def page_query(org_id: str, environment_id: str | None) -> Select[Any]:
    """A list page's rows: the deployment's own columns with its flow's name, its version's label
    and its environment's name joined in (`flow_name`, `flow_version`, `environment`)."""
    stmt = (
        select(
            Deployment.id,
            Deployment.name,
            Flow.name.label("flow_name"),
            FlowVersion.version.label("flow_version"),
            Environment.name.label("environment"),
            *(getattr(Deployment, column) for column in PAGE_COLUMNS),
        )
        .join(Flow, Flow.id == Deployment.flow_id)
        .join(FlowVersion, FlowVersion.id == Deployment.flow_version_id)
        .outerjoin(Environment, Environment.id == Deployment.environment_id)
        .where(Deployment.org_id == org_id)
    )
    if environment_id is not None:
        stmt = stmt.where(Deployment.environment_id == environment_id)
    return stmt


def list_in_environment(session: Session, org_id: str, environment_id: str) -> list[Deployment]:
    stmt = list_query(org_id, environment_id).order_by(Deployment.name, Deployment.id)
    return list(session.execute(stmt).scalars())


def names_in_environment(session: Session, org_id: str, environment_id: str, *, limit: int) -> list[str]:
    stmt = (
        select(Deployment.name)
        .where(Deployment.org_id == org_id, Deployment.environment_id == environment_id)
        .order_by(Deployment.name)
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def flows_by_id(session: Session, org_id: str, ids: Collection[str]) -> dict[str, Flow]:
    if not ids:
        return {}
    stmt = select(Flow).where(Flow.org_id == org_id, Flow.id.in_(list(ids)))
    return {f.id: f for f in session.execute(stmt).scalars()}


def versions_by_id(session: Session, org_id: str, ids: Collection[str]) -> dict[str, FlowVersion]:
    if not ids:
        return {}
    stmt = select(FlowVersion).where(FlowVersion.org_id == org_id, FlowVersion.id.in_(list(ids)))
    return {v.id: v for v in session.execute(stmt).scalars()}


def environments_by_id(session: Session, org_id: str, ids: Collection[str]) -> dict[str, Environment]:
    if not ids:
        return {}
    stmt = select(Environment).where(Environment.org_id == org_id, Environment.id.in_(list(ids)))
    return {e.id: e for e in session.execute(stmt).scalars()}


def add(session: Session, deployment: Deployment) -> None:
    session.add(deployment)
    session.flush()


def delete(session: Session, deployment: Deployment) -> None:
    session.delete(deployment)
    session.flush()
