"""The wire contract between the server, a worker and a run's process, defined once.

`models`: the worker protocol's bodies (`/v1/workers/...`). `host`: what a worker's host lets
nodes do. `payload`: what a worker hands a run's process. The server, the worker client, the
supervisor and the runtime all import these models; none of them describes a claimed run again.
Only pydantic is needed, so a worker host without the server's dependencies has it.
"""

from dagy.protocol.host import HostSettings
from dagy.protocol.models import (
    Accepted,
    ApprovalDecision,
    Artifact,
    ClaimedRun,
    ClaimRequest,
    ClaimResponse,
    CompletionResponse,
    ExecutionLimits,
    HeartbeatRequest,
    HeartbeatResponse,
    LogBatch,
    LogLine,
    NodeRunBatch,
    NodeRunReport,
    NodeRunState,
    ObjectList,
    ObjectWritten,
    RunCompletion,
    Subflow,
    Waiting,
)
from dagy.protocol.payload import ContainerPayload, ObjectsApi, RunPayload

__all__ = [
    "Accepted",
    "ApprovalDecision",
    "Artifact",
    "ClaimRequest",
    "ClaimResponse",
    "ClaimedRun",
    "CompletionResponse",
    "ContainerPayload",
    "ExecutionLimits",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "HostSettings",
    "LogBatch",
    "LogLine",
    "NodeRunBatch",
    "NodeRunReport",
    "NodeRunState",
    "ObjectList",
    "ObjectWritten",
    "ObjectsApi",
    "RunCompletion",
    "RunPayload",
    "Subflow",
    "Waiting",
]
