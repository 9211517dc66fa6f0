"""The instance-wide reads behind the database gauges of `GET /metrics` (every org's rows).

Each query reads an index range whose size is the live work, not the history: the non-terminal
runs (`ix_run_claim`, led by `status`), the workers (one row per worker identity), the earliest due
schedule and sensor (`ix_schedule_due`, `ix_sensor_due`: a probe of one end) and the pending alert
deliveries (`ix_alert_delivery_due`). Terminal runs are never counted: that would read the whole
run history on every scrape.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dagy.server.db.models import AlertDelivery, Run, Schedule, Sensor, Worker
from dagy.server.db.models.identity import in_unsuspended_org


def count_runs(session: Session, statuses: Iterable[str]) -> list[tuple[str, str, int]]:
    """(status, executor, runs) for the runs in `statuses` (non-terminal ones: `ix_run_claim`)."""
    stmt = (
        select(Run.status, Run.executor, func.count())
        .where(Run.status.in_(list(statuses)))
        .group_by(Run.status, Run.executor)
    )
    return [(status, executor, count) for status, executor, count in session.execute(stmt)]


def queued_by_executor(session: Session) -> list[tuple[str, int, datetime]]:
    """(executor, runs, oldest created_at) of the queued runs a worker may claim: those of orgs
    that are not suspended, as the claim itself reads them."""
    stmt = (
        select(Run.executor, func.count(), func.min(Run.created_at))
        .where(Run.status == "queued", in_unsuspended_org(Run.org_id))
        .group_by(Run.executor)
    )
    return [(executor, count, oldest) for executor, count, oldest in session.execute(stmt)]


def workers_by_executor(session: Session, *, online_since: datetime) -> list[tuple[str, int, datetime]]:
    """(executor, workers heard from since `online_since`, latest `last_seen_at` of any worker)."""
    online = func.count().filter(Worker.last_seen_at >= online_since)
    stmt = select(Worker.executor, online, func.max(Worker.last_seen_at)).group_by(Worker.executor)
    return [(executor, count, latest) for executor, count, latest in session.execute(stmt)]


def earliest_due_schedule(session: Session) -> datetime | None:
    """The earliest `next_run_at` of the enabled schedules the scheduler would fire (unsuspended
    orgs), one end of `ix_schedule_due`."""
    stmt = select(func.min(Schedule.next_run_at)).where(
        Schedule.enabled.is_(True), Schedule.next_run_at.is_not(None), in_unsuspended_org(Schedule.org_id)
    )
    return session.execute(stmt).scalar_one()


def earliest_due_sensor_checks(
    session: Session, sensor_types: Iterable[str]
) -> list[tuple[str, datetime | None]]:
    """(sensor type, earliest `next_check_at`) of the enabled sensors the sensor loop checks."""
    stmt = (
        select(Sensor.sensor_type, func.min(Sensor.next_check_at))
        .where(
            Sensor.enabled.is_(True),
            Sensor.sensor_type.in_(list(sensor_types)),
            Sensor.next_check_at.is_not(None),
            in_unsuspended_org(Sensor.org_id),
        )
        .group_by(Sensor.sensor_type)
    )
    return [(sensor_type, due) for sensor_type, due in session.execute(stmt)]


def pending_deliveries(session: Session) -> tuple[int, datetime | None]:
    """(pending alert deliveries, the earliest `next_attempt_at` among them): the outbox."""
    stmt = select(func.count(), func.min(AlertDelivery.next_attempt_at)).where(
        AlertDelivery.status == "pending"
    )
    count, earliest = session.execute(stmt).one()
    return int(count), earliest
