"""The worker protocol's bodies (`/v1/workers/...`, docs/workers.md), defined once.

The server validates requests and answers with these models, the worker client sends and reads
them, and the run process receives a claimed run inside its `RunPayload` (payload.py). Every write
names its worker and attempt (DESIGN.md §3). Requests refuse unknown fields; answers ignore them,
so a worker keeps reading a server that has added a field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

WORKER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"
EXECUTOR_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
MAX_LOG_LINES = 1000  # log lines in one request
MAX_LOG_LINE_CHARS = 16_000
MAX_NODE_RUN_REPORTS = 2000  # node-run reports in one request
# An approval node's bounds (dagy.nodes.control_flow.ApprovalNode checks a flow's data against them).
MAX_APPROVAL_TIMEOUT_SECONDS = 30 * 24 * 3600
MAX_APPROVERS = 50
MAX_APPROVAL_MESSAGE_CHARS = 4000
MAX_APPROVAL_COMMENT_CHARS = 2000
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]{1,255}$"


class NodeRunState(StrEnum):
    RUNNING = "running"
    RETRYING = "retrying"  # a try failed and the node is tried again (node-level retries)
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"  # its attempt ended (worker lost, run failed around it) before it finished
    PAUSED = "paused"  # an approval node waiting for a decision: its attempt ended waiting (docs/runs.md)


def _as_utc(value: datetime) -> datetime:
    """A worker's clock may send naive times; they are UTC by protocol."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


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


def problems(error: ValidationError) -> str:
    """Where and why a body is invalid, without its values (which may hold secrets)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors())


# A time answered as `2026-01-02T03:04:05.678901Z`.
Timestamp = Annotated[datetime, PlainSerializer(_iso_utc, return_type=str)]
UTCTime = Annotated[datetime, AfterValidator(_as_utc)]
Reported = Annotated[Any, AfterValidator(_without_nul)]
ReportedError = Annotated[dict[str, Any] | None, AfterValidator(_without_nul)]
WorkerId = Annotated[str, Field(pattern=WORKER_ID_PATTERN)]
Attempt = Annotated[int, Field(ge=1)]


class Request(BaseModel):
    """A body a worker sends: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    """A body the server answers with; built from attributes, unknown fields ignored when read."""

    model_config = ConfigDict(from_attributes=True)


class ClaimRequest(Request):
    worker_id: WorkerId
    executor: str = Field("local", pattern=EXECUTOR_PATTERN)
    capacity: int = Field(1, ge=1, le=100, description="Most runs to claim at once (free slots).")
    wait_seconds: float = Field(0, ge=0, le=60, description="Long-poll this long when nothing is queued.")
    concurrency: int | None = Field(None, ge=1, le=10_000, description="Runs the worker executes at once.")
    isolation: Literal["strict", "partial", "off"] | None = Field(
        None, description="The isolation its runs get (docs/isolation.md)."
    )


class Subflow(Answer):
    flow_name: str
    flow_version: str
    flow_spec: dict[str, Any] | None


class Artifact(Answer):
    uri: str = Field(description="`artifact_s3_uri` of the version; fetch it with `GET .../artifact`.")
    entrypoint: str | None = Field(description="`module:function` the runtime calls.")


class ExecutionLimits(Answer):
    memory_mb: int
    timeout_seconds: int


class ApprovalDecision(Answer):
    """An approval node's decision, its output once decided (docs/node-types/approval.md)."""

    approved: bool
    decided_by: str | None = Field(description="The member's email; null when the timeout decided.")
    comment: str | None
    decided_at: Timestamp


# A run a worker holds the lease of, with everything its process needs and cannot ask the server
# for (a run's process holds no credential of the worker). A comment, not a docstring: the
# docstring would become the schema's description in /v1/openapi.json.
class ClaimedRun(Answer):
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
        "(`/workers/runs/{run_id}/objects/...`), valid while this worker holds this attempt's lease.",
        repr=False,
    )
    approvals: dict[str, ApprovalDecision] = Field(
        default_factory=dict,
        description="node_id -> the approval its approval node was given; the node completes with it.",
    )


class ClaimResponse(Answer):
    runs: list[ClaimedRun]
    heartbeat_seconds: float = Field(description="How often to heartbeat each claimed run.")
    lease_seconds: float


class HeartbeatRequest(Request):
    worker_id: WorkerId
    attempt: Attempt


class HeartbeatResponse(Answer):
    run_id: str
    cancel_requested: bool
    lease_expires_at: Timestamp | None


class LogLine(Request):
    timestamp: UTCTime
    message: Annotated[str, AfterValidator(_without_nul)] = Field(max_length=MAX_LOG_LINE_CHARS)


class LogBatch(Request):
    worker_id: WorkerId
    attempt: Attempt
    lines: list[LogLine] = Field(max_length=MAX_LOG_LINES)


class NodeRunReport(Request):
    node_id: str = Field(min_length=1, max_length=128)
    node_type: str = Field(min_length=1, max_length=64)
    status: NodeRunState
    tries: int | None = Field(None, ge=1, le=10_000, description="Tries so far (node-level retries + 1).")
    started_at: UTCTime | None = None
    completed_at: UTCTime | None = None
    output: Reported = None
    error: ReportedError = None


class NodeRunBatch(Request):
    worker_id: WorkerId
    attempt: Attempt
    node_runs: list[NodeRunReport] = Field(max_length=MAX_NODE_RUN_REPORTS)


Email = Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=320)]


class Waiting(Request):
    """What an attempt that ended `waiting` waits for: a decision on one of its approval nodes."""

    type: Literal["approval"] = "approval"
    node_id: str = Field(min_length=1, max_length=128)
    message: Annotated[str, AfterValidator(_without_nul)] = Field(max_length=MAX_APPROVAL_MESSAGE_CHARS)
    approvers: list[Email] = Field(default_factory=list, max_length=MAX_APPROVERS)
    timeout_seconds: int = Field(ge=1, le=MAX_APPROVAL_TIMEOUT_SECONDS)
    on_timeout: Literal["reject", "approve"] = "reject"


class RunCompletion(Request):
    worker_id: WorkerId
    attempt: Attempt
    status: Literal["completed", "failed", "cancelled", "waiting"]
    output: Reported = None
    error: ReportedError = None
    waiting_for: Waiting | None = Field(None, description="With `waiting` (and only then): what for.")
    # The attempt's last node runs and log lines, recorded with the result (one request, not three).
    node_runs: list[NodeRunReport] = Field(default_factory=list, max_length=MAX_NODE_RUN_REPORTS)
    logs: list[LogLine] = Field(default_factory=list, max_length=MAX_LOG_LINES)

    @model_validator(mode="after")
    def _waiting_says_what_for(self) -> RunCompletion:
        if (self.status == "waiting") != (self.waiting_for is not None):
            raise ValueError("waiting_for is given with status waiting, and only then")
        return self


class Accepted(Answer):
    run_id: str
    accepted: int


class CompletionResponse(Answer):
    run_id: str
    status: str = Field(description="The run's state afterwards: `queued` when the failure is retried.")


class ObjectWritten(Answer):
    key: str = Field(description="The object's full key (`dagy/...`).")
    bytes: int


class ObjectList(Answer):
    keys: list[str] = Field(description="Full keys under the prefix, sorted.")
