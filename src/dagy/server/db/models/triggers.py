"""What starts runs without a person: schedules (and each time one fired) and sensors (and each
event one saw). DESIGN.md §4."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, TimestampMixin, id_column, utcnow


class Schedule(Base, TimestampMixin):
    __tablename__ = "schedule"
    __table_args__ = (
        UniqueConstraint("org_id", "schedule_id"),
        Index("ix_schedule_due", "enabled", "next_run_at"),
        Index("ix_schedule_org_flow", "org_id", "flow_name"),
    )

    id: Mapped[str] = id_column("sched")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    schedule_id: Mapped[str] = mapped_column(String(128))  # the name users give and address it by
    flow_id: Mapped[str] = mapped_column(ForeignKey("flow.id", ondelete="CASCADE"), index=True)
    flow_name: Mapped[str] = mapped_column(String(128))
    flow_version: Mapped[str | None] = mapped_column(String(64))  # None: the latest when it fires
    # A deployment's `schedule` field is this schedule; it goes with its deployment.
    deployment_id: Mapped[str | None] = mapped_column(
        ForeignKey("deployment.id", ondelete="CASCADE"), index=True
    )
    mode: Mapped[str] = mapped_column(String(16))  # cron | interval | one_time | manual
    enabled: Mapped[bool] = mapped_column(default=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    catchup_policy: Mapped[str] = mapped_column(String(8), default="skip")  # skip | all | none
    cron_expression: Mapped[str | None] = mapped_column(String(128))
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    one_time_at: Mapped[datetime | None]
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    environment: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    next_run_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    last_run_id: Mapped[str | None] = mapped_column(String(40))


class ScheduleFire(Base):
    """One fire time of a schedule: the unique (schedule, scheduled_for) is what keeps several
    schedulers from firing it twice. `outcome`: queued | skipped | refused | backfill (a backfill ran
    it, or holds it: the scheduler must not)."""

    __tablename__ = "schedule_fire"
    __table_args__ = (UniqueConstraint("schedule_id", "scheduled_for"),)

    id: Mapped[str] = id_column("fire")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("schedule.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime]
    run_id: Mapped[str | None] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScheduleBackfill(Base):
    """A backfill of a schedule's past fire times (`POST /schedules/{id}/backfill`): at most
    `max_active` of its runs queued or running at once; the scheduler releases the rest."""

    __tablename__ = "schedule_backfill"

    id: Mapped[str] = id_column("bfill")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("schedule.id", ondelete="CASCADE"), index=True)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    reprocess: Mapped[str] = mapped_column(String(8))  # none | failed | all
    run_order: Mapped[str] = mapped_column(String(16))  # oldest_first | newest_first
    max_active: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScheduleBackfillRun(Base):
    """One fire time of a backfill, in the backfill's order (`position`). `status`: `held` (waits
    for a free slot), `queued` (its run made), `refused` (the runs domain refused it when released)."""

    __tablename__ = "schedule_backfill_run"
    __table_args__ = (
        UniqueConstraint("backfill_id", "position"),
        Index("ix_schedule_backfill_run_status", "status", "backfill_id", "position"),
    )

    id: Mapped[str] = id_column("bfrun")
    backfill_id: Mapped[str] = mapped_column(ForeignKey("schedule_backfill.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    scheduled_for: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    detail: Mapped[dict[str, Any] | None]


class Sensor(Base, TimestampMixin):
    __tablename__ = "sensor"
    __table_args__ = (Index("ix_sensor_due", "enabled", "sensor_type", "next_check_at"),)

    id: Mapped[str] = id_column("sensor")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    sensor_type: Mapped[str] = mapped_column(String(16))  # s3 | webhook | polling
    flow_id: Mapped[str] = mapped_column(ForeignKey("flow.id", ondelete="CASCADE"), index=True)
    flow_name: Mapped[str] = mapped_column(String(128))
    config_json: Mapped[dict[str, Any]] = mapped_column(default=dict)
    flow_params_json: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    # A webhook sensor's token: its SHA-256 finds the sensor; the token itself is kept encrypted
    # with the org's data key so that GET can show it again.
    webhook_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    webhook_token_encrypted: Mapped[str | None] = mapped_column(Text)
    cursor: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what an s3/polling sensor has seen
    next_check_at: Mapped[datetime | None]
    last_fired_at: Mapped[datetime | None]


class SensorEvent(Base):
    """Each event a sensor saw (`GET /sensors/{id}/events`); `dedup_key` (an object key, say) makes
    a sensor fire once per event even across restarts. `outcome`: fired | refused | failed | test."""

    __tablename__ = "sensor_event"
    __table_args__ = (
        UniqueConstraint("sensor_id", "dedup_key"),
        Index("ix_sensor_event_sensor_time", "sensor_id", "occurred_at", "id"),
    )

    id: Mapped[str] = id_column("sevt")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    sensor_id: Mapped[str] = mapped_column(ForeignKey("sensor.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload_digest: Mapped[str] = mapped_column(String(64))
    dedup_key: Mapped[str | None] = mapped_column(String(1024))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any] | None]
