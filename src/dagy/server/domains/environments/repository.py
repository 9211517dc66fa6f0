"""Queries for environments, always scoped by org id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, Select, bindparam, func, select
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, KeysetQuery, PageRequest
from dagy.server.db.models import Deployment, Environment
from dagy.server.db.reads import read_timestamp

T = TypeVar("T")


def get_environment(session: Session, org_id: str, name: str) -> Environment | None:
    stmt = select(Environment).where(Environment.org_id == org_id, Environment.name == name)
    return session.execute(stmt).scalar_one_or_none()


def list_query(org_id: str) -> Select[Environment]:
    return select(Environment).where(Environment.org_id == org_id)


# A page of environments without their config and variables, built once
# (api/pagination.py: KeysetQuery).
LIST_PAGES = KeysetQuery(
    select(
        Environment.id,
        Environment.name,
        Environment.default_executor,
        Environment.is_protected,
        Environment.promotion_order,
        read_timestamp(Environment.created_at),
        read_timestamp(Environment.updated_at),
    ).where(Environment.org_id == bindparam("org_id")),
    order_by=[Environment.promotion_order, Environment.name, Environment.id],
    descending=False,
)


def list_page(
    connection: Connection, org_id: str, page: PageRequest, *, to_item: Callable[[Row[Any]], T]
) -> KeysetPage[T]:
    """In promotion order, then by name."""
    return LIST_PAGES.page(connection, page, params={"org_id": org_id}, to_item=to_item)


def list_all(session: Session, org_id: str) -> list[Environment]:
    """Every environment of the org in promotion order (an org has a handful)."""
    stmt = list_query(org_id).order_by(Environment.promotion_order, Environment.name, Environment.id)
    return list(session.execute(stmt).scalars())


def next_promotion_order(session: Session, org_id: str) -> int:
    stmt = select(func.max(Environment.promotion_order)).where(Environment.org_id == org_id)
    current = session.execute(stmt).scalar_one()
    return 0 if current is None else int(current) + 1


def deployment_names(session: Session, org_id: str, environment_id: str, *, limit: int) -> list[str]:
    """The names of the deployments the environment holds, by name (`ix_deployment_org_environment`):
    an environment that holds any is not deleted."""
    stmt = (
        select(Deployment.name)
        .where(Deployment.org_id == org_id, Deployment.environment_id == environment_id)
        .order_by(Deployment.name)
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def add(session: Session, environment: Environment) -> None:
    session.add(environment)
    session.flush()


def delete(session: Session, environment: Environment) -> None:
    session.delete(environment)
    session.flush()
