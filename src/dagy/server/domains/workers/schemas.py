"""Bodies of the worker protocol. Every write names its worker and attempt (DESIGN.md §3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from dagy.server.api.schemas import RequestModel, ResponseModel, Timestamp
from dagy.server.domains.flows.schemas import EXECUTOR_PATTERN
from dagy.server.orchestration import NodeRunState

WORKER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"


def _as_utc(value: datetime) -> datetime:
    """A worker's clock may send naive times; they are UTC by protocol."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _without_nul(value: Any) -> Any:
    """PostgreSQL stores no NUL character in text or JSON: each one in what a run reports (its
    output, errors, log lines) becomes U+FFFD, on SQLite alike, so both databases keep one value."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


UTCTime = Annotated[datetime, AfterValidator(_as_utc)]
Reported = Annotated[Any, AfterValidator(_without_nul)]
ReportedError = Annotated[dict[str, Any] | None, AfterValidator(_without_nul)]
WorkerId = Annotated[str, Field(pattern=WORKER_ID_PATTERN)]
Attempt = Annotated[int, Field(ge=1)]


class ClaimRequest(RequestModel):
    worker_id: WorkerId
    executor: str = Field("local", pattern=EXECUTOR_PATTERN)
    capacity: int = Field(1, ge=1, le=100, description="Most runs to claim at once (free slots).")
    wait_seconds: float = Field(0, ge=0, le=60, description="Long-poll this long when nothing is queued.")


class Subflow(ResponseModel):
    flow_name: str
    flow_version: str
    flow_spec: dict[str, Any] | None


class Artifact(ResponseModel):
    uri: str = Field(description="`artifact_s3_uri` of the version; fetch it with `GET .../artifact`.")
    entrypoint: str | None = Field(description="`module:function` the runtime calls.")


class ExecutionLimits(ResponseModel):
    memory_mb: int
    timeout_seconds: int


class ClaimedRun(ResponseModel):
    run_id: str
    attempt: int
    org_id: str
    flow_name: str
    flow_version: str
    flow_spec: dict[str, Any] | None
    parameters: dict[str, Any]
    execution_mode: str
    lease_expires_at: Timestamp
    deployment_name: str | None
    secrets: dict[str, str] = Field(
        description='Values of the secrets the flow spec and its subflows reference as {"secret": name}.'
    )
    env: dict[str, str] = Field(description="Variables of the deployment's environment.")
    completed_nodes: dict[str, Any] = Field(
        description="node_id -> output of nodes earlier attempts completed; the attempt resumes after them."
    )
    subflows: dict[str, Subflow] = Field(
        description="`name` (latest) or `name@version` -> the flow version a subflow node runs."
    )
    limits: ExecutionLimits
    artifact: Artifact | None = Field(description="A code flow's artifact.")
    custom_nodes: dict[str, str] = Field(
        description="node_type -> `module:Class` of the org's custom node types the specs use."
    )
    objects_token: str = Field(
        description="The credential of this attempt's process for the object routes "
        "(`/workers/runs/{run_id}/objects/...`), valid while this worker holds this attempt's lease."
    )


class ClaimResponse(ResponseModel):
    runs: list[ClaimedRun]
    heartbeat_seconds: float = Field(description="How often to heartbeat each claimed run.")
    lease_seconds: float


class HeartbeatRequest(RequestModel):
    worker_id: WorkerId
    attempt: Attempt


class HeartbeatResponse(ResponseModel):
    run_id: str
    cancel_requested: bool
    lease_expires_at: Timestamp | None


class LogLine(RequestModel):
    timestamp: UTCTime
    message: Annotated[str, AfterValidator(_without_nul)] = Field(max_length=16_000)


MAX_LOG_LINES = 1000


class LogBatch(RequestModel):
    worker_id: WorkerId
    attempt: Attempt
    lines: list[LogLine] = Field(max_length=MAX_LOG_LINES)


class NodeRunReport(RequestModel):
    node_id: str = Field(min_length=1, max_length=128)
    node_type: str = Field(min_length=1, max_length=64)
    status: NodeRunState
    tries: int | None = Field(None, ge=1, le=10_000, description="Tries so far (node-level retries + 1).")
    started_at: UTCTime | None = None
    completed_at: UTCTime | None = None
    output: Reported = None
    error: ReportedError = None


MAX_NODE_RUN_REPORTS = 2000


class NodeRunBatch(RequestModel):
    worker_id: WorkerId
    attempt: Attempt
    node_runs: list[NodeRunReport] = Field(max_length=MAX_NODE_RUN_REPORTS)


class RunCompletion(RequestModel):
    worker_id: WorkerId
    attempt: Attempt
    status: Literal["completed", "failed", "cancelled"]
    output: Reported = None
    error: ReportedError = None
    # The attempt's last node runs and log lines, recorded with the result (one request, not three).
    node_runs: list[NodeRunReport] = Field(default_factory=list, max_length=MAX_NODE_RUN_REPORTS)
    logs: list[LogLine] = Field(default_factory=list, max_length=MAX_LOG_LINES)


class Accepted(ResponseModel):
    run_id: str
    accepted: int


class CompletionResponse(ResponseModel):
    run_id: str
    status: str = Field(description="The run's state afterwards: `queued` when the failure is retried.")


class ObjectWritten(ResponseModel):
    key: str = Field(description="The object's full key (`dagy/...`).")
    bytes: int


class ObjectList(ResponseModel):
    keys: list[str] = Field(description="Full keys under the prefix, sorted.")
