"""Queries behind authentication: users, login sessions, the memberships a caller acts through."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dagy.server.db.models import ApiKey, AuthSession, Membership, Org, User


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.execute(select(User).where(User.email == email)).scalar_one_or_none()


def get_user(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def get_org(session: Session, org_id: str) -> Org | None:
    return session.get(Org, org_id)


def add_user(session: Session, email: str) -> User:
    user = User(email=email)
    session.add(user)
    session.flush()
    return user


def list_memberships_of_user(session: Session, user_id: str) -> list[tuple[Membership, Org]]:
    stmt = (
        select(Membership, Org)
        .join(Org, Org.id == Membership.org_id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Membership.id)
    )
    return [(m, o) for m, o in session.execute(stmt).all()]


def get_membership(session: Session, *, user_id: str, org_id: str) -> tuple[Membership, Org] | None:
    stmt = (
        select(Membership, Org)
        .join(Org, Org.id == Membership.org_id)
        .where(Membership.user_id == user_id, Membership.org_id == org_id)
    )
    row = session.execute(stmt).first()
    return (row[0], row[1]) if row else None


def add_auth_session(session: Session, auth_session: AuthSession) -> None:
    session.add(auth_session)


def get_live_auth_session(
    session: Session, token_hash: str, now: datetime
) -> tuple[AuthSession, User] | None:
    stmt = (
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(
            AuthSession.token_hash == token_hash,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
    )
    row = session.execute(stmt).first()
    return (row[0], row[1]) if row else None


def revoke_auth_session(session: Session, session_id: str, now: datetime) -> None:
    session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_sessions_of_user(session: Session, user_id: str, now: datetime) -> int:
    """Revoke every live session of the user; answers how many."""
    result = session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None), AuthSession.expires_at > now)
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def get_api_key_by_hash(session: Session, key_hash: str) -> tuple[ApiKey, User] | None:
    stmt = (
        select(ApiKey, User)
        .join(User, User.id == ApiKey.created_by_user_id)
        .where(ApiKey.key_hash == key_hash)
    )
    row = session.execute(stmt).first()
    return (row[0], row[1]) if row else None


def touch_api_key(session: Session, key_id: str, now: datetime) -> None:
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


def get_membership_by_invitation(session: Session, invitation_hash: str) -> Membership | None:
    stmt = select(Membership).where(Membership.invitation_token_hash == invitation_hash)
    return session.execute(stmt).scalar_one_or_none()
