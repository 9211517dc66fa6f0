"""The dashboard's and the settings page's reads, scoped by org id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from dagy.server.db.models import NotificationChannel, Run

ACTIVE_STATUSES = ("queued", "running")


def count_runs_by_status(session: Session, org_id: str, since: datetime) -> dict[str, int]:
    """Runs created since `since` (ix_run_org_created), by status."""
    rows = session.execute(
        select(Run.status, func.count())
        .where(Run.org_id == org_id, Run.created_at >= since)
        .group_by(Run.status)
    )
    return {status: int(count) for status, count in rows}


def count_active_runs(session: Session, org_id: str) -> int:
    """Queued and running runs, whenever created (ix_run_org_status)."""
    statement = select(func.count()).where(Run.org_id == org_id, Run.status.in_(ACTIVE_STATUSES))
    return int(session.execute(statement).scalar_one())


def list_recent_runs(session: Session, org_id: str, *, limit: int) -> Sequence[Run]:
    statement = (
        select(Run).where(Run.org_id == org_id).order_by(Run.created_at.desc(), Run.id.desc()).limit(limit)
    )
    return session.scalars(statement).all()


def list_failing_flows(
    session: Session, org_id: str, since: datetime, *, limit: int
) -> list[tuple[str, int, int, datetime]]:
    """(flow_name, failed, runs, last failure) of the flows with failed runs created since `since`."""
    is_failed = Run.status == "failed"
    failed = func.sum(case((is_failed, 1), else_=0))
    last_failed = func.max(case((is_failed, func.coalesce(Run.completed_at, Run.created_at))))
    statement = (
        select(Run.flow_name, failed.label("failed"), func.count().label("runs"), last_failed)
        .where(Run.org_id == org_id, Run.created_at >= since)
        .group_by(Run.flow_name)
        .having(failed > 0)
        .order_by(failed.desc(), Run.flow_name)
        .limit(limit)
    )
    return [(name, int(failed), int(runs), last) for name, failed, runs, last in session.execute(statement)]


def count_channels_by_type(session: Session, org_id: str) -> dict[str, int]:
    rows = session.execute(
        select(NotificationChannel.channel_type, func.count())
        .where(NotificationChannel.org_id == org_id)
        .group_by(NotificationChannel.channel_type)
    )
    return {channel_type: int(count) for channel_type, count in rows}
