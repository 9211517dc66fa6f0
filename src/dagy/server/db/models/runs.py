"""Runs (the queue is this table: DESIGN.md §3), their log lines and their node runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, JSONType, TimestampMixin, id_column, utcnow


class Run(Base, TimestampMixin):
    __tablename__ = "run"
    __table_args__ = (
        UniqueConstraint("org_id", "run_slug"),
        UniqueConstraint("org_id", "idempotency_key"),
        Index("ix_run_claim", "status", "executor", "priority", "created_at", "id"),
        Index("ix_run_lease", "status", "lease_expires_at"),
        Index("ix_run_org_flow", "org_id", "flow_name", "id"),
        Index("ix_run_schedule", "schedule_id"),  # a schedule's runs; unlinking them when it goes
        Index("ix_run_sensor", "sensor_id"),
        # Usage: an org's runs of a day (roll-ups), its queued and running runs (the quota).
        Index("ix_run_org_created", "org_id", "created_at"),
        Index("ix_run_org_status", "org_id", "status"),
    )

    id: Mapped[str] = id_column("run")
    # Indexed by ix_run_org_created and ix_run_org_status (org_id first).
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    flow_id: Mapped[str] = mapped_column(ForeignKey("flow.id", ondelete="CASCADE"), index=True)
    # Indexed so deleting a flow's versions cascades to runs without scanning the run table.
    flow_version_id: Mapped[str] = mapped_column(
        ForeignKey("flow_version.id", ondelete="CASCADE"), index=True
    )
    flow_name: Mapped[str] = mapped_column(String(128))
    flow_version: Mapped[str] = mapped_column(String(64))
    run_slug: Mapped[str] = mapped_column(String(200))
    deployment_name: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    executor: Mapped[str] = mapped_column(String(64))
    execution_mode: Mapped[str] = mapped_column(String(16), default="nano")
    priority: Mapped[int] = mapped_column(Integer, default=100)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    output: Mapped[Any | None] = mapped_column(JSONType)
    error: Mapped[dict[str, Any] | None]
    tags: Mapped[list[Any]] = mapped_column(default=list)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    max_retries: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # What started it: `manual` (a member), `api_key`, `schedule`, `sensor` or `webhook`; and the
    # schedule or sensor that did (the rows may be gone: SET NULL), the sensor's event.
    trigger: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")
    schedule_id: Mapped[str | None] = mapped_column(ForeignKey("schedule.id", ondelete="SET NULL"))
    scheduled_for: Mapped[datetime | None]
    sensor_id: Mapped[str | None] = mapped_column(ForeignKey("sensor.id", ondelete="SET NULL"))
    sensor_event_id: Mapped[str | None] = mapped_column(String(40))
    # What a running run whose attempt paused waits for (an approval node's decision), shown by the
    # API; null otherwise (docs/runs.md, "Approvals").
    waiting_for: Mapped[dict[str, Any] | None]


class RunLog(Base):
    __tablename__ = "run_log"
    __table_args__ = (Index("ix_run_log_run_seq", "run_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    timestamp: Mapped[datetime]
    message: Mapped[str] = mapped_column(Text)
    ingestion_time: Mapped[datetime] = mapped_column(default=utcnow)


class NodeRun(Base):
    """One node of one attempt of a run, as the worker reported it (`GET /runs/{id}/tasks`)."""

    __tablename__ = "node_run"
    __table_args__ = (UniqueConstraint("run_id", "attempt", "node_id"),)

    id: Mapped[str] = id_column("node")
    run_id: Mapped[str] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    node_id: Mapped[str] = mapped_column(String(128))
    node_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    tries: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # node-level retries + 1
    worker_id: Mapped[str | None] = mapped_column(String(128))  # the worker of the attempt that ran it
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    error: Mapped[dict[str, Any] | None]
    output: Mapped[Any | None] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RunEvent(Base):
    """Something that happened to a run that others react to (`on_retry` today; alert rules read
    these). Written in the transaction that made it happen."""

    __tablename__ = "run_event"
    __table_args__ = (Index("ix_run_event_org_created", "org_id", "created_at", "id"),)

    id: Mapped[str] = id_column("rev")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    node_id: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
