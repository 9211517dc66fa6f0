"""The super admin's queries: across every org, always naming the org they read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from dagy.server.db.models import AuditLog, AuthSession, Membership, Org, User


def get_org(session: Session, org_id: str, *, lock: bool = False) -> Org | None:
    if lock:
        return session.execute(select(Org).where(Org.id == org_id).with_for_update()).scalar_one_or_none()
    return session.get(Org, org_id)


def _member_count() -> Any:
    return select(func.count(Membership.id)).where(Membership.org_id == Org.id).scalar_subquery()


def _customer_filters(status: str | None, plan: str | None, search: str | None) -> list[Any]:
    conditions: list[Any] = []
    if status is not None:
        conditions.append(Org.status == status)
    if plan is not None:
        conditions.append(Org.plan == plan)
    if search is not None:
        needle = search.lower()
        conditions.append(
            or_(
                func.lower(Org.name).contains(needle, autoescape=True),
                func.lower(Org.owner_email).contains(needle, autoescape=True),
            )
        )
    return conditions


def list_customers(
    session: Session,
    *,
    status: str | None,
    plan: str | None,
    search: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[tuple[Org, int]]:
    """Newest first, up to `limit`, after the keyset `(created_at, id)` when given."""
    stmt: Select[Any] = select(Org, _member_count().label("member_count")).where(
        *_customer_filters(status, plan, search)
    )
    if after is not None:
        created_at, org_id = after
        stmt = stmt.where(
            or_(Org.created_at < created_at, and_(Org.created_at == created_at, Org.id < org_id))
        )
    stmt = stmt.order_by(Org.created_at.desc(), Org.id.desc()).limit(limit)
    return [(row[0], int(row[1])) for row in session.execute(stmt)]


def count_customers(session: Session, *, status: str | None, plan: str | None, search: str | None) -> int:
    stmt = select(func.count(Org.id)).where(*_customer_filters(status, plan, search))
    return int(session.execute(stmt).scalar_one())


def list_members(session: Session, org_id: str) -> list[tuple[Membership, User]]:
    stmt = (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org_id)
        .order_by(Membership.created_at, Membership.id)
    )
    return [(m, u) for m, u in session.execute(stmt).all()]


def get_member_user(session: Session, org_id: str, email: str) -> User | None:
    stmt = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org_id, User.email == email)
    )
    return session.execute(stmt).scalar_one_or_none()


def list_live_sessions(
    session: Session, org_id: str, now: datetime
) -> list[tuple[str, datetime | None, datetime]]:
    """(email, last login, newest live token's issue time) of each member with a live session."""
    stmt = (
        select(User.email, User.last_login_at, func.max(AuthSession.created_at))
        .join(Membership, Membership.user_id == User.id)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(
            Membership.org_id == org_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
        .group_by(User.id, User.email, User.last_login_at)
        .order_by(User.email)
    )
    return [(row[0], row[1], row[2]) for row in session.execute(stmt)]


def list_audit(
    session: Session, org_id: str, *, limit: int, after: tuple[datetime, str] | None
) -> list[AuditLog]:
    """The org's audit rows, newest first (`ix_audit_log_org_timestamp`)."""
    stmt = select(AuditLog).where(AuditLog.org_id == org_id)
    if after is not None:
        moment, audit_id = after
        stmt = stmt.where(
            or_(AuditLog.timestamp < moment, and_(AuditLog.timestamp == moment, AuditLog.id < audit_id))
        )
    stmt = stmt.order_by(AuditLog.timestamp.desc(), AuditLog.id.desc()).limit(limit)
    return list(session.execute(stmt).scalars())
