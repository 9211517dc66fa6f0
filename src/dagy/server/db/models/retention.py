"""Per-org retention: how many days runs, logs, node outputs, audit rows and sensor events are kept.

A null column means the installation's default (`DAGY_RETENTION__*`). The purge loop
(services/retention.py) reads these rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, utcnow
from dagy.server.db.models.triggers import ScheduleFire, SensorEvent


class OrgRetention(Base):
    __tablename__ = "org_retention"

    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), primary_key=True)
    runs_days: Mapped[int | None] = mapped_column(Integer)
    logs_days: Mapped[int | None] = mapped_column(Integer)
    node_outputs_days: Mapped[int | None] = mapped_column(Integer)
    audit_days: Mapped[int | None] = mapped_column(Integer)
    sensor_events_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# Deleting a run cascades to the schedule fires and sensor events that name it; without these
# indexes each deleted run would scan both tables (PostgreSQL checks a cascade row by row). Declared
# here, beside the purge that needs them, on the tables of db/models/triggers.py.
Index("ix_schedule_fire_run", ScheduleFire.run_id)
Index("ix_sensor_event_run", SensorEvent.run_id)
