"""`/retention`: how many days an org keeps each kind of data; null means the installation's default."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from dagy.server.api.schemas import RequestModel, ResponseModel

# The bounds of the settings (DAGY_RETENTION__*) and of an org's values are the same.
RunsDays = Annotated[
    int | None, Field(ge=7, le=3650, description="Terminal runs (with their logs and node runs).")
]
LogsDays = Annotated[int | None, Field(ge=1, le=3650, description="Run log lines of terminal runs.")]
NodeOutputsDays = Annotated[
    int | None, Field(ge=1, le=3650, description="Node outputs of terminal runs and their stored objects.")
]
AuditDays = Annotated[int | None, Field(ge=30, le=3650, description="Audit rows.")]
SensorEventsDays = Annotated[
    int | None, Field(ge=1, le=3650, description="Sensor events without a dedup key.")
]


class RetentionDays(BaseModel):
    """Days each kind of data is kept; null: forever."""

    runs_days: int | None
    logs_days: int | None
    node_outputs_days: int | None
    audit_days: int | None
    sensor_events_days: int | None


class RetentionUpdate(RequestModel):
    """The org's whole setting (PUT): a field left out or null follows the installation's default."""

    runs_days: RunsDays = None
    logs_days: LogsDays = None
    node_outputs_days: NodeOutputsDays = None
    audit_days: AuditDays = None
    sensor_events_days: SensorEventsDays = None


class RetentionRead(ResponseModel):
    """The org's values (null: the installation's default) and what applies (`effective`, null: kept
    forever)."""

    runs_days: int | None
    logs_days: int | None
    node_outputs_days: int | None
    audit_days: int | None
    sensor_events_days: int | None
    effective: RetentionDays
