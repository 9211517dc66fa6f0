"""Queries for schedules and their fire times, scoped by org id (except the scheduler's claim of due
schedules, which serves every org)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from dagy.server.api.pagination import FilteredKeysetQuery, KeysetPage, PageRequest
from dagy.server.db.bulk import insert_new
from dagy.server.db.models import (
    Deployment,
    Environment,
    Run,
    Schedule,
    ScheduleBackfill,
    ScheduleBackfillRun,
    ScheduleFire,
)
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


# Backfills (`backfill.py`).

HELD = "held"


def runs_of_fire_times(
    session: Session, org_id: str, schedule_pk: str, start: datetime, end: datetime
) -> list[tuple[datetime, str]]:
    """(fire time, status) of the schedule's runs of fire times in `[start, end]`, oldest run first."""
    stmt = (
        select(Run.scheduled_for, Run.status)
        .where(
            Run.org_id == org_id,
            Run.schedule_id == schedule_pk,
            Run.scheduled_for >= start,
            Run.scheduled_for <= end,
        )
        .order_by(Run.created_at, Run.id)
    )
    return [(row[0], row[1]) for row in session.execute(stmt) if row[0] is not None]


def held_fire_times(session: Session, schedule_pk: str, start: datetime, end: datetime) -> set[datetime]:
    """Fire times in `[start, end]` that a backfill of the schedule holds (no run yet)."""
    stmt = (
        select(ScheduleBackfillRun.scheduled_for)
        .join(ScheduleBackfill, ScheduleBackfill.id == ScheduleBackfillRun.backfill_id)
        .where(
            ScheduleBackfill.schedule_id == schedule_pk,
            ScheduleBackfillRun.status == HELD,
            ScheduleBackfillRun.scheduled_for >= start,
            ScheduleBackfillRun.scheduled_for <= end,
        )
    )
    return set(session.execute(stmt).scalars())


def add_backfill(session: Session, backfill: ScheduleBackfill, rows: Sequence[dict[str, Any]]) -> None:
    """The backfill and its fire times (complete rows, one INSERT executemany)."""
    session.add(backfill)
    session.flush()
    if rows:
        session.execute(ScheduleBackfillRun.__table__.insert(), list(rows))


def any_held(session: Session) -> bool:
    """Whether some backfill holds a fire time: one probe of `ix_schedule_backfill_run_status`."""
    stmt = select(ScheduleBackfillRun.id).where(ScheduleBackfillRun.status == HELD).limit(1)
    return session.execute(stmt).first() is not None


def lock_holding_backfills(session: Session, *, after: str, limit: int) -> list[ScheduleBackfill]:
    """Up to `limit` backfills holding fire times with ids after `after`, oldest first (ids are
    time-ordered), of orgs not suspended; locked with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two
    schedulers release different backfills (SQLite: the caller's write transaction holds the writer
    lock)."""
    holding = select(ScheduleBackfillRun.backfill_id).where(ScheduleBackfillRun.status == HELD)
    stmt = (
        select(ScheduleBackfill)
        .where(
            ScheduleBackfill.id.in_(holding),
            ScheduleBackfill.id > after,
            in_unsuspended_org(ScheduleBackfill.org_id),
        )
        .order_by(ScheduleBackfill.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.execute(stmt).scalars())


def active_runs(session: Session, backfill_ids: Collection[str], states: Collection[str]) -> dict[str, int]:
    """backfill id -> how many of its runs are in `states` (queued or running)."""
    if not backfill_ids:
        return {}
    stmt = (
        select(ScheduleBackfillRun.backfill_id, func.count())
        .join(Run, Run.id == ScheduleBackfillRun.run_id)
        .where(ScheduleBackfillRun.backfill_id.in_(backfill_ids), Run.status.in_(states))
        .group_by(ScheduleBackfillRun.backfill_id)
    )
    return {row[0]: int(row[1]) for row in session.execute(stmt)}


def next_held(session: Session, backfill_id: str, *, limit: int) -> list[ScheduleBackfillRun]:
    """The backfill's next `limit` held fire times, in its order."""
    stmt = (
        select(ScheduleBackfillRun)
        .where(ScheduleBackfillRun.status == HELD, ScheduleBackfillRun.backfill_id == backfill_id)
        .order_by(ScheduleBackfillRun.position)
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def schedules_with_deployments(
    session: Session, schedule_pks: Collection[str]
) -> dict[str, tuple[Schedule, str | None]]:
    """schedule row id -> (the schedule, its deployment's name), for the scheduler (every org)."""
    if not schedule_pks:
        return {}
    stmt = (
        select(Schedule, Deployment.name)
        .outerjoin(Deployment, Deployment.id == Schedule.deployment_id)
        .where(Schedule.id.in_(schedule_pks))
    )
    return {row[0].id: (row[0], row[1]) for row in session.execute(stmt)}
