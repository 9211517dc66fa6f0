"""Queries of AI Studio, always scoped by org id, sessions by their user too."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, bindparam, case, delete, func, or_, select
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, KeysetQuery, PageRequest
from dagy.server.db.models import (
    AiStudioAttachment,
    AiStudioSession,
    AiStudioTurn,
    Flow,
    FlowVersion,
    Org,
    Run,
)
from dagy.server.db.reads import read_timestamp

T = TypeVar("T")

ACTIVE, ARCHIVED = "active", "archived"
PENDING = "pending"
READY = "ready"


# Sessions


def get_session(
    session: Session, org_id: str, user_id: str, session_id: str, *, for_update: bool = False
) -> AiStudioSession | None:
    """The user's session in the org; `for_update` locks it (PostgreSQL), so the turns of one
    session are reserved and answered one at a time."""
    stmt = select(AiStudioSession).where(
        AiStudioSession.org_id == org_id,
        AiStudioSession.user_id == user_id,
        AiStudioSession.id == session_id,
    )
    if for_update:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def get_session_for_flow(
    session: Session, org_id: str, user_id: str, flow_name: str
) -> AiStudioSession | None:
    """The user's session bound to the flow most recently."""
    stmt = (
        select(AiStudioSession)
        .where(
            AiStudioSession.org_id == org_id,
            AiStudioSession.user_id == user_id,
            AiStudioSession.flow_name == flow_name,
        )
        .order_by(AiStudioSession.bound_at.desc(), AiStudioSession.id.desc())
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


# A page of the user's sessions, archived ones left out unless asked for (api/pagination.py).
_SESSION_COLUMNS = select(
    AiStudioSession.id,
    AiStudioSession.title,
    AiStudioSession.tier,
    AiStudioSession.status,
    AiStudioSession.flow_name,
    AiStudioSession.turn_count,
    AiStudioSession.credits_used,
    read_timestamp(AiStudioSession.created_at),
    read_timestamp(AiStudioSession.updated_at),
    read_timestamp(AiStudioSession.archived_at),
).where(AiStudioSession.org_id == bindparam("org_id"), AiStudioSession.user_id == bindparam("user_id"))
LIST_PAGES = KeysetQuery(
    _SESSION_COLUMNS.where(AiStudioSession.status == ACTIVE), order_by=[AiStudioSession.id]
)
LIST_PAGES_WITH_ARCHIVED = KeysetQuery(_SESSION_COLUMNS, order_by=[AiStudioSession.id])


def list_sessions_page(
    connection: Connection,
    org_id: str,
    user_id: str,
    page: PageRequest,
    *,
    include_archived: bool,
    to_item: Callable[[Row[Any]], T],
) -> KeysetPage[T]:
    """Newest first, keyed on the session id (time-ordered)."""
    query = LIST_PAGES_WITH_ARCHIVED if include_archived else LIST_PAGES
    return query.page(connection, page, params={"org_id": org_id, "user_id": user_id}, to_item=to_item)


def add(session: Session, row: AiStudioSession | AiStudioTurn | AiStudioAttachment) -> None:
    session.add(row)
    session.flush()


def delete_row(session: Session, row: AiStudioSession | AiStudioTurn | AiStudioAttachment) -> None:
    session.delete(row)
    session.flush()


def credits_balance(session: Session, org_id: str) -> float:
    balance = session.execute(select(Org.credits_balance).where(Org.id == org_id)).scalar_one_or_none()
    return float(balance or 0.0)


# Turns


def list_turns(session: Session, session_id: str) -> Sequence[AiStudioTurn]:
    stmt = select(AiStudioTurn).where(AiStudioTurn.session_id == session_id)
    return session.execute(stmt.order_by(AiStudioTurn.created_at, AiStudioTurn.id)).scalars().all()


def recent_answered_turns(session: Session, session_id: str, limit: int) -> list[AiStudioTurn]:
    """The last `limit` answered turns, oldest first."""
    stmt = (
        select(AiStudioTurn)
        .where(AiStudioTurn.session_id == session_id, AiStudioTurn.status != PENDING)
        .order_by(AiStudioTurn.created_at.desc(), AiStudioTurn.id.desc())
        .limit(limit)
    )
    return list(reversed(session.execute(stmt).scalars().all()))


def find_turns(
    session: Session, session_id: str, *, turn_id: str | None, idempotency_key: str | None
) -> Sequence[AiStudioTurn]:
    """The turns of the session with this client turn id or this idempotency key (one, two or none)."""
    keys = []
    if turn_id is not None:
        keys.append(AiStudioTurn.turn_id == turn_id)
    if idempotency_key is not None:
        keys.append(AiStudioTurn.idempotency_key == idempotency_key)
    if not keys:
        return []
    stmt = select(AiStudioTurn).where(AiStudioTurn.session_id == session_id, or_(*keys))
    return session.execute(stmt.order_by(AiStudioTurn.id)).scalars().all()


def get_turn(session: Session, session_id: str, row_id: str) -> AiStudioTurn | None:
    stmt = select(AiStudioTurn).where(AiStudioTurn.session_id == session_id, AiStudioTurn.id == row_id)
    return session.execute(stmt).scalar_one_or_none()


def count_turns(session: Session, session_id: str) -> int:
    """Every turn of the session, those still pending included."""
    stmt = select(func.count()).select_from(AiStudioTurn).where(AiStudioTurn.session_id == session_id)
    return int(session.execute(stmt).scalar_one())


# Attachments


def list_attachments(session: Session, session_id: str) -> Sequence[AiStudioAttachment]:
    stmt = select(AiStudioAttachment).where(AiStudioAttachment.session_id == session_id)
    return (
        session.execute(stmt.order_by(AiStudioAttachment.created_at, AiStudioAttachment.id)).scalars().all()
    )


def get_attachment(
    session: Session, session_id: str, attachment_id: str, *, for_update: bool = False
) -> AiStudioAttachment | None:
    stmt = select(AiStudioAttachment).where(
        AiStudioAttachment.session_id == session_id, AiStudioAttachment.id == attachment_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def expired_pending_attachments(
    session: Session, session_id: str, now: datetime
) -> Sequence[AiStudioAttachment]:
    stmt = select(AiStudioAttachment).where(
        AiStudioAttachment.session_id == session_id,
        AiStudioAttachment.status == PENDING,
        AiStudioAttachment.expires_at <= now,
    )
    return session.execute(stmt).scalars().all()


def count_attachments(session: Session, session_id: str) -> int:
    stmt = (
        select(func.count())
        .select_from(AiStudioAttachment)
        .where(AiStudioAttachment.session_id == session_id)
    )
    return int(session.execute(stmt).scalar_one())


def delete_attachments(session: Session, attachment_ids: Sequence[str]) -> None:
    if attachment_ids:
        session.execute(delete(AiStudioAttachment).where(AiStudioAttachment.id.in_(attachment_ids)))


# The org's flows, for advisory turns


def recent_flows(session: Session, org_id: str, limit: int) -> Sequence[Row[str, str, str | None]]:
    """(id, name, latest version label) of the org's most recently changed flows."""
    stmt = (
        select(Flow.id, Flow.name, Flow.latest_version)
        .where(Flow.org_id == org_id)
        .order_by(Flow.updated_at.desc(), Flow.id.desc())
        .limit(limit)
    )
    return session.execute(stmt).all()


def latest_specs(session: Session, org_id: str, flow_ids: Sequence[str]) -> dict[str, dict[str, Any] | None]:
    """The flow spec of each flow's latest version, by flow id."""
    stmt = (
        select(FlowVersion.flow_id, FlowVersion.flow_spec)
        .join(Flow, Flow.id == FlowVersion.flow_id)
        .where(
            FlowVersion.org_id == org_id,
            FlowVersion.flow_id.in_(flow_ids),
            FlowVersion.version == Flow.latest_version,
        )
    )
    return {flow_id: spec for flow_id, spec in session.execute(stmt).all()}


def run_counts(
    session: Session, org_id: str, flow_names: Sequence[str], since: datetime
) -> dict[str, tuple[int, int]]:
    """(runs, failed runs) created since `since`, by flow name."""
    failed = func.sum(case((Run.status == "failed", 1), else_=0))
    stmt = (
        select(Run.flow_name, func.count(), failed)
        .where(Run.org_id == org_id, Run.flow_name.in_(flow_names), Run.created_at >= since)
        .group_by(Run.flow_name)
    )
    return {name: (int(runs), int(failures or 0)) for name, runs, failures in session.execute(stmt).all()}


def last_run(
    session: Session, org_id: str, flow_name: str
) -> Row[str, datetime, dict[str, Any] | None] | None:
    """(status, created_at, error) of the flow's latest run."""
    stmt = (
        select(Run.status, Run.created_at, Run.error)
        .where(Run.org_id == org_id, Run.flow_name == flow_name)
        .order_by(Run.id.desc())
        .limit(1)
    )
    return session.execute(stmt).first()


def last_failure(session: Session, org_id: str, flow_name: str) -> dict[str, Any] | None:
    """The error of the flow's latest failed run."""
    stmt = (
        select(Run.error)
        .where(Run.org_id == org_id, Run.flow_name == flow_name, Run.status == "failed")
        .order_by(Run.id.desc())
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()
