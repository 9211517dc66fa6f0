"""Queries for flows and flow versions, always scoped by org id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, bindparam, case, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, KeysetQuery, PageRequest
from dagy.server.db.models import Deployment, Flow, FlowVersion, Run
from dagy.server.db.reads import read_timestamp

T = TypeVar("T")


def get_flow(session: Session, org_id: str, name: str, *, for_update: bool = False) -> Flow | None:
    """`for_update` locks the row (PostgreSQL), so concurrent registrations number versions in turn."""
    stmt = select(Flow).where(Flow.org_id == org_id, Flow.name == name)
    if for_update:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def add_flow(session: Session, flow: Flow) -> Flow:
    """Insert a new flow; when a concurrent request created it first, answer that one, locked."""
    try:
        with session.begin_nested():
            session.add(flow)
    except IntegrityError:
        existing = get_flow(session, flow.org_id, flow.name, for_update=True)
        if existing is None:
            raise
        return existing
    return flow


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


def version_labels(session: Session, org_id: str, flow_id: str) -> set[str]:
    stmt = select(FlowVersion.version).where(FlowVersion.org_id == org_id, FlowVersion.flow_id == flow_id)
    return set(session.execute(stmt).scalars())


# A page of flows reads only the list's columns of the flow row (no join, no spec), with the
# names the response gives them; the statement is built once (api/pagination.py: KeysetQuery).
LIST_PAGES = KeysetQuery(
    select(
        Flow.id,
        Flow.name.label("flow_name"),
        Flow.latest_version.label("flow_version"),
        Flow.namespace,
        Flow.tags,
        Flow.status,
        read_timestamp(Flow.created_at),
        read_timestamp(Flow.updated_at),
    ).where(Flow.org_id == bindparam("org_id")),
    order_by=[Flow.id],
)


def list_page(
    connection: Connection, org_id: str, page: PageRequest, *, to_item: Callable[[Row[Any]], T]
) -> KeysetPage[T]:
    """Newest first, keyed on the flow id."""
    return LIST_PAGES.page(connection, page, params={"org_id": org_id}, to_item=to_item)


# A list of a flow's versions reads the flow (its id and latest label), the versions its
# deployments place, then a page of versions without their specs, highest deployment version first.
_FLOW_OF_VERSIONS = select(Flow.id, Flow.name, Flow.latest_version).where(
    Flow.org_id == bindparam("org_id"), Flow.name == bindparam("flow_name")
)
_DEPLOYED_VERSIONS = select(Deployment.flow_version_id).where(
    Deployment.org_id == bindparam("org_id"), Deployment.flow_id == bindparam("flow_id")
)
VERSION_PAGES = KeysetQuery(
    select(
        FlowVersion.id,
        FlowVersion.version,
        FlowVersion.deployment_version,
        FlowVersion.artifact_s3_uri,
        FlowVersion.status,
        read_timestamp(FlowVersion.created_at),
        read_timestamp(FlowVersion.updated_at),
    ).where(FlowVersion.org_id == bindparam("org_id"), FlowVersion.flow_id == bindparam("flow_id")),
    order_by=[FlowVersion.deployment_version],
)


def flow_of_versions(connection: Connection, org_id: str, name: str) -> Row[str, str, str | None] | None:
    """The flow's `id`, `name` and `latest_version`, when the org has a flow of this name."""
    return connection.execute(_FLOW_OF_VERSIONS, {"org_id": org_id, "flow_name": name}).first()


def deployed_version_ids(connection: Connection, org_id: str, flow_id: str) -> set[str]:
    return set(connection.execute(_DEPLOYED_VERSIONS, {"org_id": org_id, "flow_id": flow_id}).scalars())


def version_page(
    connection: Connection, org_id: str, flow_id: str, page: PageRequest, *, to_item: Callable[[Row[Any]], T]
) -> KeysetPage[T]:
    params = {"org_id": org_id, "flow_id": flow_id}
    return VERSION_PAGES.page(connection, page, params=params, to_item=to_item)


def deployment_for_version(session: Session, org_id: str, version: FlowVersion) -> Deployment | None:
    """The flow's deployment to show with a version: one that places this version (the most
    recently changed, when several do), else the flow's most recently changed deployment."""
    stmt = (
        select(Deployment)
        .where(Deployment.org_id == org_id, Deployment.flow_id == version.flow_id)
        .order_by(
            case((Deployment.flow_version_id == version.id, 0), else_=1),
            Deployment.updated_at.desc(),
            Deployment.id.desc(),
        )
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def run_ids_of_flow(session: Session, org_id: str, flow_id: str) -> list[str]:
    """The ids of the flow's runs (deleting the flow deletes them; their objects go after it)."""
    return list(session.execute(select(Run.id).where(Run.org_id == org_id, Run.flow_id == flow_id)).scalars())


def delete_flow(session: Session, org_id: str, flow_id: str) -> int:
    """Delete the flow row; foreign keys cascade to versions, deployments, runs and what hangs on them."""
    result = session.execute(
        delete(Flow)
        .where(Flow.org_id == org_id, Flow.id == flow_id)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
