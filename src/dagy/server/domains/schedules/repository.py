"""Queries for schedules and their fire times, scoped by org id (except the scheduler's claim of due
schedules, which serves every org)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, and_, bindparam, select, update
from sqlalchemy.orm import Session

from dagy.server.api.pagination import FilteredKeysetQuery, KeysetPage, PageRequest
from dagy.server.db.bulk import insert_new
from dagy.server.db.models import Deployment, Environment, Schedule, ScheduleFire
from dagy.server.db.models.identity import in_unsuspended_org
from dagy.server.db.reads import read_timestamp

T = TypeVar("T")


def get_schedule(session: Session, org_id: str, schedule_id: str) -> Schedule | None:
    stmt = select(Schedule).where(Schedule.org_id == org_id, Schedule.schedule_id == schedule_id)
    return session.execute(stmt).scalar_one_or_none()


def get_for_deployment(session: Session, org_id: str, deployment_id: str) -> Schedule | None:
    stmt = select(Schedule).where(Schedule.org_id == org_id, Schedule.deployment_id == deployment_id)
    return session.execute(stmt).scalars().first()


def schedule_id_taken(session: Session, org_id: str, schedule_id: str) -> bool:
    stmt = select(Schedule.id).where(Schedule.org_id == org_id, Schedule.schedule_id == schedule_id)
    return session.execute(stmt.limit(1)).first() is not None


# A page of schedules: `ScheduleRead`'s fields under their names (its deployment's name joined in
# by primary key) and the row's id, by schedule id; every combination of the filters built once
# (api/pagination.py).
LIST_PAGES = FilteredKeysetQuery(
    select(
        Schedule.id,
        Schedule.schedule_id,
        Schedule.flow_name,
        Schedule.flow_version,
        Deployment.name.label("deployment_name"),
        Schedule.mode,
        Schedule.enabled,
        Schedule.timezone,
        Schedule.catchup_policy,
        Schedule.cron_expression,
        Schedule.interval_seconds,
        read_timestamp(Schedule.one_time_at),
        read_timestamp(Schedule.start_at),
        read_timestamp(Schedule.end_at),
        Schedule.parameters,
        Schedule.environment,
        Schedule.description,
        read_timestamp(Schedule.next_run_at),
        read_timestamp(Schedule.last_run_at),
        Schedule.last_run_id,
        read_timestamp(Schedule.created_at),
        read_timestamp(Schedule.updated_at),
    )
    .outerjoin(
        Deployment, and_(Deployment.id == Schedule.deployment_id, Deployment.org_id == bindparam("org_id"))
    )
    .where(Schedule.org_id == bindparam("org_id")),
    filters={
        "flow_name": Schedule.flow_name == bindparam("flow_name"),
        "mode": Schedule.mode == bindparam("mode"),
        "enabled": Schedule.enabled == bindparam("enabled"),
    },
    order_by=[Schedule.schedule_id, Schedule.id],
    descending=False,
)

# The row id of the schedule a list of runs names, when the org has it.
_SCHEDULE_PK = select(Schedule.id).where(
    Schedule.org_id == bindparam("org_id"), Schedule.schedule_id == bindparam("schedule_id")
)


def list_page(
    connection: Connection,
    org_id: str,
    page: PageRequest,
    *,
    flow_name: str | None,
    mode: str | None,
    enabled: bool | None,
    to_item: Callable[[Row[Any]], T],
) -> KeysetPage[T]:
    filters = {"flow_name": flow_name, "mode": mode, "enabled": enabled}
    return LIST_PAGES.page(connection, page, params={"org_id": org_id}, filters=filters, to_item=to_item)


def schedule_pk(connection: Connection, org_id: str, schedule_id: str) -> str | None:
    found = connection.execute(_SCHEDULE_PK, {"org_id": org_id, "schedule_id": schedule_id}).scalar()
    return None if found is None else str(found)


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


def add(session: Session, schedule: Schedule) -> None:
    session.add(schedule)
    session.flush()


def delete(session: Session, schedule: Schedule) -> None:
    session.delete(schedule)
    session.flush()


def any_due(session: Session, *, now: datetime) -> bool:
    """Whether some enabled schedule is due at `now`: one probe of `ix_schedule_due`."""
    stmt = (
        select(Schedule.id)
        .where(Schedule.enabled.is_(True), Schedule.next_run_at <= now, in_unsuspended_org(Schedule.org_id))
        .limit(1)
    )
    return session.execute(stmt).first() is not None


def lock_due(session: Session, *, now: datetime, limit: int) -> list[tuple[Schedule, str | None]]:
    """Up to `limit` enabled schedules due at `now` (`ix_schedule_due`), oldest due first, each with
    its deployment's name. PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent schedulers take
    different schedules; SQLite: the caller's write transaction holds the writer lock."""
    stmt = (
        select(Schedule, Deployment.name)
        .outerjoin(Deployment, Deployment.id == Schedule.deployment_id)
        .where(Schedule.enabled.is_(True), Schedule.next_run_at <= now, in_unsuspended_org(Schedule.org_id))
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
