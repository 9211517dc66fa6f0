"""A claimed run and a run's payload (`dagy.protocol`) for tests that run the runtime or a supervisor
without a server: every field a server would fill, with values a test may override."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dagy.protocol import Artifact, ClaimedRun, ExecutionLimits, RunPayload


def claimed_run(**fields: Any) -> ClaimedRun:
    """A claimed run of a one-version flow; `fields` replace any of its fields."""
    values: dict[str, Any] = {
        "run_id": "run_test",
        "attempt": 1,
        "org_id": "org_test",
        "flow_name": "flow",
        "flow_version": "1",
        "flow_spec": {},
        "parameters": {},
        "execution_mode": "nano",
        "lease_expires_at": datetime.now(UTC),
        "deployment_name": None,
        "secrets": {},
        "env": {},
        "completed_nodes": {},
        "subflows": {},
        "limits": ExecutionLimits(memory_mb=256, timeout_seconds=60),
        "artifact": None,
        "custom_nodes": {},
        "objects_token": "dagy_run.test",
    }
    return ClaimedRun.model_validate(values | fields)


def run_payload(
    flow_spec: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    *,
    entrypoint: str | None = None,
    **fields: Any,
) -> RunPayload:
    """The payload of a flow spec's run, or of a code flow's (`artifact_path` and `entrypoint`).
    `fields` are the payload's own (objects_dir, log_max_bytes, ...) or the claimed run's."""
    own = {key: fields.pop(key) for key in list(fields) if key in RunPayload.model_fields}
    claim = {"flow_spec": flow_spec or {}, "parameters": parameters or {}} | fields
    if entrypoint is not None:
        claim["artifact"] = Artifact(uri="dagy/flows/test.zip", entrypoint=entrypoint)
    return RunPayload(claim=claimed_run(**claim), **own)
