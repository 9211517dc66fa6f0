"""Bodies of `/schedules`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import RequestModel, ResponseModel
from dagy.server.domains.deployments.schemas import version_label
from dagy.server.domains.environments.schemas import ENV_NAME_PATTERN
from dagy.server.domains.flows.schemas import FlowName
from dagy.server.domains.runs.schemas import RunListItem

SCHEDULE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
MAX_INTERVAL_SECONDS = 366 * 86400
MODES = ("cron", "interval", "one_time", "manual")

ScheduleName = Annotated[str, StringConstraints(pattern=SCHEDULE_ID_PATTERN)]
Mode = Literal["cron", "interval", "one_time", "manual"]
CatchupPolicy = Literal["skip", "all", "none"]
TimeZoneName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
CronExpression = Annotated[str, StringConstraints(max_length=128)]
IntervalSeconds = Annotated[int, Field(ge=60, le=MAX_INTERVAL_SECONDS, description="At least 60.")]
EnvironmentName = Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)]
Description = Annotated[str, StringConstraints(max_length=2000)]
Parameters = Annotated[dict[str, Any], Field(description="A JSON object, at most 256 KB.")]


class ScheduleCreate(RequestModel):
    schedule_id: ScheduleName = Field(description="Unique in the org; the schedule's address.")
    flow_name: FlowName
    flow_version: str | int | None = Field(None, description="None: the flow's latest version when it fires.")
    mode: Mode
    enabled: bool = True
    timezone: TimeZoneName = Field("UTC", description="IANA time zone the cron expression is read in.")
    catchup_policy: CatchupPolicy = "skip"
    cron_expression: CronExpression | None = None
    interval_seconds: IntervalSeconds | None = None
    one_time_at: datetime | None = Field(None, description="Without an offset: in the schedule's zone.")
    start_at: datetime | None = None
    end_at: datetime | None = None
    parameters: Parameters = Field(default_factory=dict)
    environment: EnvironmentName | None = Field(
        None, description="Run the flow's deployment in this environment (its version and settings)."
    )
    description: Description | None = None

    @field_validator("flow_version")
    @classmethod
    def _label(cls, value: str | int | None) -> str | None:
        return version_label(value)


class ScheduleUpdate(RequestModel):
    """Only the fields given change; `null` clears an optional field."""

    enabled: bool | None = None
    mode: Mode | None = Field(None, description="Fields of the other modes not given are cleared.")
    timezone: TimeZoneName | None = None
    catchup_policy: CatchupPolicy | None = None
    cron_expression: CronExpression | None = None
    interval_seconds: IntervalSeconds | None = None
    one_time_at: datetime | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    parameters: Parameters | None = None
    description: Description | None = None
    environment: EnvironmentName | None = None
    flow_version: str | int | None = None

    @field_validator("flow_version")
    @classmethod
    def _label(cls, value: str | int | None) -> str | None:
        return version_label(value)


class ScheduleRead(ResponseModel):
    schedule_id: str
    flow_name: str
    flow_version: str | None
    deployment_name: str | None
    mode: str
    enabled: bool
    timezone: str
    catchup_policy: str
    cron_expression: str | None
    interval_seconds: int | None
    one_time_at: Timestamp | None
    start_at: Timestamp | None
    end_at: Timestamp | None
    parameters: dict[str, Any]
    environment: str | None
    description: str | None
    next_run_at: Timestamp | None
    last_run_at: Timestamp | None
    last_run_id: str | None
    created_at: Timestamp
    updated_at: Timestamp


class SchedulePage(ResponseModel):
    items: list[ScheduleRead]
    next_token: str | None


class ScheduleTrigger(RequestModel):
    parameters: Parameters = Field(default_factory=dict, description="Merged over the schedule's.")


class ScheduleTriggered(ResponseModel):
    run_id: str
    run_slug: str
    schedule_id: str
    flow_name: str
    flow_version: str
    status: str
    created_at: Timestamp


class ScheduleRun(RunListItem):
    scheduled_for: Timestamp | None = Field(description="The fire time; null for a manual trigger.")
    tags: list[str]


class ScheduleRunPage(ResponseModel):
    items: list[ScheduleRun]
    next_token: str | None


MAX_BACKFILL_FIRE_TIMES = 1000


class ScheduleBackfillCreate(RequestModel):
    """Run the schedule's fire times in `[start, end]` again (or for the first time)."""

    start: datetime = Field(
        description="The window's first instant; without an offset: in the schedule's zone."
    )
    end: datetime = Field(description="The window's last instant (not in the future), after `start`.")
    reprocess: Literal["none", "failed", "all"] = Field(
        "none",
        description="none: skip fire times that have a run; failed: also those whose latest run failed or "
        "was cancelled; all: every fire time.",
    )
    max_active: int = Field(10, ge=1, le=100, description="At most this many of its runs queued or running.")
    order: Literal["oldest_first", "newest_first"] = "oldest_first"
    dry_run: bool = Field(False, description="Answer what it would do; create nothing.")


class BackfillRun(ResponseModel):
    scheduled_for: Timestamp
    run_id: str | None = Field(description="Null while held (or in a dry run).")
    status: Literal["queued", "held"] = Field(description="held: queued by the scheduler when a slot frees.")


class BackfillSkip(ResponseModel):
    scheduled_for: Timestamp
    reason: str = Field(description="has_run, latest_run_<status> or held_by_backfill.")


class ScheduleBackfillRead(ResponseModel):
    backfill_id: str | None = Field(description="Null in a dry run.")
    schedule_id: str
    dry_run: bool
    count: int = Field(description="The fire times it runs (queued now or held).")
    runs: list[BackfillRun]
    skipped: list[BackfillSkip]
