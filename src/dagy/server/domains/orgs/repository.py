"""Queries for orgs and memberships, always scoped by org id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dagy.server.db.models import Membership, Org, User


def get_org_by_name(session: Session, name: str) -> Org | None:
    return session.execute(select(Org).where(Org.name == name)).scalar_one_or_none()


def get_org(session: Session, org_id: str) -> Org | None:
    return session.get(Org, org_id)


def add(session: Session, obj: Org | Membership) -> None:
    session.add(obj)
    session.flush()


def list_members(session: Session, org_id: str) -> list[tuple[Membership, User]]:
    stmt = (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org_id)
        .order_by(Membership.created_at, Membership.id)
    )
    return [(m, u) for m, u in session.execute(stmt).all()]


def get_member_by_email(session: Session, org_id: str, email: str) -> tuple[Membership, User] | None:
    stmt = (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org_id, User.email == email)
    )
    row = session.execute(stmt).first()
    return (row[0], row[1]) if row else None
