"""Queries for deployments, always scoped by org id."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, Select, bindparam, select
from sqlalchemy.orm import Session

from dagy.server.api.pagination import FilteredKeysetQuery, KeysetPage, PageRequest
from dagy.server.db.models import Deployment, Environment, Flow, FlowVersion
from dagy.server.db.reads import read_timestamp

T = TypeVar("T")


def get_deployment(session: Session, org_id: str, name: str) -> Deployment | None:
    stmt = select(Deployment).where(Deployment.org_id == org_id, Deployment.name == name)
    return session.execute(stmt).scalar_one_or_none()


def list_query(org_id: str, environment_id: str | None) -> Select[Deployment]:
    stmt = select(Deployment).where(Deployment.org_id == org_id)
    if environment_id is not None:
        stmt = stmt.where(Deployment.environment_id == environment_id)
    return stmt


def _page_statement() -> Select[Any]:
    """A list page's rows: the deployment's own columns with its flow's name, its version's label
    and its environment's name joined in by primary key (`flow_name`, `flow_version`,
    `environment`)."""
    stmt = (
        select(
            Deployment.id,
            Deployment.name,
            Flow.name.label("flow_name"),
            FlowVersion.version.label("flow_version"),
            Environment.name.label("environment"),
            Deployment.schedule,
            Deployment.default_executor,
            Deployment.execution_mode,
            Deployment.tags,
            Deployment.dep_package_slugs,
            Deployment.max_retries,
            Deployment.status,
            read_timestamp(Deployment.created_at),
            read_timestamp(Deployment.updated_at),
            Deployment.promoted_from_env,
            Deployment.promoted_from_deployment,
            read_timestamp(Deployment.promoted_at),
        )
        .join(Flow, Flow.id == Deployment.flow_id)
        .join(FlowVersion, FlowVersion.id == Deployment.flow_version_id)
        .outerjoin(Environment, Environment.id == Deployment.environment_id)
        .where(Deployment.org_id == bindparam("org_id"))
    )
    return stmt


# The environment named `environment`; an unknown name holds nothing: the subquery is NULL.
_ENVIRONMENT_ID = select(Environment.id).where(
    Environment.org_id == bindparam("org_id"), Environment.name == bindparam("environment")
)
# By name, then id; `environment` an optional filter; built once (api/pagination.py).
_PAGES = FilteredKeysetQuery(
    _page_statement(),
    filters={"environment": Deployment.environment_id == _ENVIRONMENT_ID.scalar_subquery()},
    order_by=[Deployment.name, Deployment.id],
    descending=False,
)


def list_page(
    connection: Connection,
    org_id: str,
    page: PageRequest,
    *,
    environment: str | None,
    to_item: Callable[[Row[Any]], T],
) -> KeysetPage[T]:
    """A page of the org's deployments, or of those in the environment named `environment`."""
    filters = {"environment": environment}
    return _PAGES.page(connection, page, params={"org_id": org_id}, filters=filters, to_item=to_item)


def list_in_environment(session: Session, org_id: str, environment_id: str) -> list[Deployment]:
    stmt = list_query(org_id, environment_id).order_by(Deployment.name, Deployment.id)
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
