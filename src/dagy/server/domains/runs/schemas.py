"""Bodies of `/runs`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from dagy.protocol.models import EXECUTOR_PATTERN, MAX_APPROVAL_COMMENT_CHARS, Timestamp
from dagy.server.api.schemas import RequestModel, ResponseModel
from dagy.server.domains.flows.schemas import FLOW_NAME_PATTERN

ExecutionMode = Literal["nano", "micro", "small", "medium", "large", "xlarge"]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class RunTrigger(RequestModel):
    flow_name: str | None = Field(
        None, pattern=FLOW_NAME_PATTERN, description="Required without `deployment`."
    )
    deployment: str | None = Field(
        None,
        pattern=FLOW_NAME_PATTERN,
        description="Instead of flow_name/flow_version: run the deployment's version with its executor, "
        "execution mode and max_retries (each overridden when given here).",
    )
    flow_version: str | int | None = Field(None, description="Defaults to the flow's latest version.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="A JSON object, at most 256 KB.")
    execute: bool = Field(
        True,
        description="False records and validates the run without dispatching it: it stays `pending` "
        "(never claimed) until cancelled.",
    )
    executor: str | None = Field(
        None, pattern=EXECUTOR_PATTERN, description="Defaults to the version's default executor."
    )
    execution_mode: ExecutionMode = "nano"
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    max_retries: int = Field(0, ge=0, le=10, description="Failed attempts re-queued before the run fails.")
    priority: int = Field(100, ge=0, le=1000, description="Lower runs first among queued runs.")


class RunTriggered(ResponseModel):
    run_id: str
    run_slug: str
    flow_name: str
    flow_version: str
    status: str
    created_at: Timestamp
    parameters: dict[str, Any]


class WaitingFor(ResponseModel):
    type: Literal["approval"] = Field(description="What the run waits for: an approval node's decision.")
    node_id: str
    message: str = Field(description="The approval node's message, rendered for this run.")
    approvers: list[str] = Field(description="Who may decide; empty: any member who may trigger runs.")
    on_timeout: Literal["reject", "approve"]
    since: Timestamp
    timeout_at: Timestamp = Field(description="When `on_timeout` decides, unless someone has.")


class RunListItem(ResponseModel):
    run_id: str
    run_slug: str
    flow_name: str
    flow_version: str
    status: str
    created_at: Timestamp
    started_at: Timestamp | None
    completed_at: Timestamp | None
    duration_seconds: float | None
    trigger: str = Field(description="What started it: manual, api_key, schedule, sensor or webhook.")
    schedule_id: str | None = Field(description="The schedule that started it (its `schedule_id`).")
    scheduled_for: Timestamp | None = Field(description="The fire time it ran for (a schedule's).")
    sensor_id: str | None = Field(description="The sensor that started it.")
    sensor_event_id: str | None = Field(description="The sensor's event it ran for (`/sensors/{id}/events`).")
    tags: list[str]
    waiting_for: WaitingFor | None = Field(
        description="A running run whose attempt paused at an approval node: what it waits for "
        "(`POST /runs/{id}/approve` or `/reject`)."
    )


class RunPage(ResponseModel):
    items: list[RunListItem]
    next_token: str | None


class RunRead(RunListItem):
    status_detail: str | None = Field(
        description="Why a queued run may wait: no worker asked for its executor's runs in the last minute."
    )
    worker_id: str | None = Field(description="The worker of its current attempt; null while queued.")
    attempt: int = Field(description="Attempts so far: 0 while queued for the first time.")
    deployment_name: str | None
    executor: str
    execution_mode: str
    parameters: dict[str, Any]
    output: Any
    error: dict[str, Any] | None
    retry_count: int


class RunCancelled(ResponseModel):
    run_id: str
    status: str
    cancelled_at: Timestamp | None


class RunRetried(ResponseModel):
    run_id: str
    status: str
    attempt: int = Field(description="Attempts so far; the retry's attempt is the next one.")
    retry_count: int = Field(description="Attempts re-queued so far, automatically or by a retry.")


class RunRerun(RequestModel):
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Merged over the original run's parameters (a key given here wins); at most 256 KB.",
    )


class RunDecision(RequestModel):
    comment: str | None = Field(
        None, max_length=MAX_APPROVAL_COMMENT_CHARS, description="Why; part of the approval node's output."
    )


class RunDecided(ResponseModel):
    run_id: str
    status: str = Field(description="`queued` once approved (its next attempt resumes), else `failed`.")
    node_id: str
    approved: bool
    decided_by: str | None
    comment: str | None
    decided_at: Timestamp


class LogEvent(ResponseModel):
    timestamp: Timestamp
    message: str
    ingestion_time: Timestamp


class RunLogs(ResponseModel):
    events: list[LogEvent]
    next_token: str | None = Field(
        description="Continues right after the last event; present while the run may still write."
    )


class NodeRunRead(ResponseModel):
    node_id: str
    node_type: str
    status: str
    attempt: int
    tries: int = Field(description="Tries of the node in this attempt: its node-level retries + 1.")
    worker_id: str | None = Field(description="The worker whose attempt ran the node.")
    started_at: Timestamp | None
    completed_at: Timestamp | None
    duration_seconds: float | None
    output: Any
    error: dict[str, Any] | None


class NodeRunList(ResponseModel):
    run_id: str
    items: list[NodeRunRead]
