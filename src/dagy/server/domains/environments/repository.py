"""Queries for environments, always scoped by org id."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from dagy.server.db.models import Environment


def get_environment(session: Session, org_id: str, name: str) -> Environment | None:
    stmt = select(Environment).where(Environment.org_id == org_id, Environment.name == name)
    return session.execute(stmt).scalar_one_or_none()


def list_query(org_id: str) -> Select[tuple[Environment]]:
    return select(Environment).where(Environment.org_id == org_id)


def list_all(session: Session, org_id: str) -> list[Environment]:
    """Every environment of the org in promotion order (an org has a handful)."""
    stmt = list_query(org_id).order_by(Environment.promotion_order, Environment.name, Environment.id)
    return list(session.execute(stmt).scalars())


def next_promotion_order(session: Session, org_id: str) -> int:
    stmt = select(func.max(Environment.promotion_order)).where(Environment.org_id == org_id)
    current = session.execute(stmt).scalar_one()
    return 0 if current is None else int(current) + 1


def add(session: Session, environment: Environment) -> None:
    session.add(environment)
    session.flush()


def delete(session: Session, environment: Environment) -> None:
    session.delete(environment)
    session.flush()
