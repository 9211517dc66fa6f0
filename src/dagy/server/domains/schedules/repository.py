"""Queries for schedules and their fire times, scoped by org id (except the scheduler's claim of due
schedules, which serves every org)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session

from dagy.server.db.bulk import insert_new
from dagy.server.db.models import Deployment, Environment, Run, Schedule, ScheduleFire


def get_schedule(session: Session, org_id: str, schedule_id: str) -> Schedule | None:
    stmt = select(Schedule).where(Schedule.org_id == org_id, Schedule.schedule_id == schedule_id)
    return session.execute(stmt).scalar_one_or_none()


def get_for_deployment(session: Session, org_id: str, deployment_id: str) -> Schedule | None:
    stmt = select(Schedule).where(Schedule.org_id == org_id, Schedule.deployment_id == deployment_id)
    return session.execute(stmt).scalars().first()


def schedule_id_taken(session: Session, org_id: str, schedule_id: str) -> bool:
    stmt = select(Schedule.id).where(Schedule.org_id == org_id, Schedule.schedule_id == schedule_id)
    return session.execute(stmt.limit(1)).first() is not None


def list_query(
    org_id: str, *, flow_name: str | None, mode: str | None, enabled: bool | None
) -> Select[tuple[Schedule]]:
    stmt = select(Schedule).where(Schedule.org_id == org_id)
    if flow_name is not None:
        stmt = stmt.where(Schedule.flow_name == flow_name)
    if mode is not None:
        stmt = stmt.where(Schedule.mode == mode)
    if enabled is not None:
        stmt = stmt.where(Schedule.enabled.is_(enabled))
    return stmt


def deployment_names(session: Session, org_id: str, ids: Collection[str]) -> dict[str, str]:
    if not ids:
        return {}
    stmt = select(Deployment.id, Deployment.name).where(Deployment.org_id == org_id, Deployment.id.in_(ids))
    return {row.id: row.name for row in session.execute(stmt)}


def deployment_in_environment(session: Session, org_id: str, flow_id: str, environment: str) -> str | None:
    """The name of the flow's deployment in `environment`: the most recently updated one when the
    environment holds several (as `GET /environments/{env}/diff` chooses)."""
    stmt = (
        select(Deployment.name)
        .join(Environment, Environment.id == Deployment.environment_id)
        .where(
            Deployment.org_id == org_id,
            Deployment.flow_id == flow_id,
            Environment.org_id == org_id,
            Environment.name == environment,
        )
        .order_by(Deployment.updated_at.desc(), Deployment.id.desc())
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def runs_query(org_id: str, schedule_pk: str) -> Select[tuple[Run]]:
    return select(Run).where(Run.org_id == org_id, Run.schedule_id == schedule_pk)


def add(session: Session, schedule: Schedule) -> None:
    session.add(schedule)
    session.flush()


def delete(session: Session, schedule: Schedule) -> None:
    session.delete(schedule)
    session.flush()


def any_due(session: Session, *, now: datetime) -> bool:
    """Whether some enabled schedule is due at `now`: one probe of `ix_schedule_due`."""
    stmt = select(Schedule.id).where(Schedule.enabled.is_(True), Schedule.next_run_at <= now).limit(1)
    return session.execute(stmt).first() is not None


def lock_due(session: Session, *, now: datetime, limit: int) -> list[tuple[Schedule, str | None]]:
    """Up to `limit` enabled schedules due at `now` (`ix_schedule_due`), oldest due first, each with
    its deployment's name. PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent schedulers take
    different schedules; SQLite: the caller's write transaction holds the writer lock."""
    stmt = (
        select(Schedule, Deployment.name)
        .outerjoin(Deployment, Deployment.id == Schedule.deployment_id)
        .where(Schedule.enabled.is_(True), Schedule.next_run_at <= now)
        .order_by(Schedule.next_run_at, Schedule.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Schedule)
    )
    return [(row[0], row[1]) for row in session.execute(stmt)]


def insert_fires(session: Session, rows: Sequence[dict[str, Any]]) -> set[str]:
    """`INSERT ... ON CONFLICT (schedule_id, scheduled_for) DO NOTHING`; the ids of the rows
    inserted. A fire time already recorded (by another scheduler, or before a change of the
    schedule moved it back) inserts nothing, so it never fires twice."""
    return insert_new(session.connection(), ScheduleFire.__table__, rows)


def update_fires(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """One UPDATE by primary key for the batch (executemany); each row carries `id`."""
    if rows:
        session.execute(update(ScheduleFire), list(rows))


_SCHEDULE = Schedule.__table__.c
_ADVANCE = (
    update(Schedule.__table__)
    .where(_SCHEDULE.id == bindparam("schedule_pk"))
    .values(
        next_run_at=bindparam("next_run_at"),
        enabled=bindparam("enabled"),
        last_run_at=bindparam("last_run_at"),
        last_run_id=bindparam("last_run_id"),
    )
)


def advance(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Move fired schedules on, one UPDATE by primary key for the batch (executemany); each row
    carries `id`, `next_run_at`, `enabled`, `last_run_at` and `last_run_id`."""
    if rows:
        session.connection().execute(_ADVANCE, [{**row, "schedule_pk": row["id"]} for row in rows])
