"""The server's side of the worker protocol, and the reaper's one decision.

A worker acts within a `WorkerScope`: the installation worker token serves every org (scope
`org_id=None`); an org's API key would serve that org only — every query here already filters by
the scope's org, so accepting such keys is a change to the router's dependency alone.

Every write names the worker and the attempt. A write for an attempt that is not the run's
current one, or from a worker that no longer holds the lease, is a `Conflict` (409): a worker that
comes back after its lease expired cannot overwrite the attempt that replaced it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from dagy.server.db.base import utcnow
from dagy.server.db.models import NodeRun, Run, RunLog
from dagy.server.domains.workers import repository as repo
from dagy.server.domains.workers.schemas import (
    Accepted,
    ClaimedRun,
    ClaimRequest,
    CompletionResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    LogBatch,
    NodeRunBatch,
    RunCompletion,
)
from dagy.server.errors import Conflict, NotFound
from dagy.server.orchestration import LEASE_EXPIRED, RunState, set_node_run_state, set_run_state

MAX_OUTPUT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class WorkerScope:
    """Which org's runs a worker may see: None is every org (the installation worker token)."""

    org_id: str | None


def claim_runs(
    session: Session, *, scope: WorkerScope, data: ClaimRequest, lease_seconds: float
) -> list[ClaimedRun]:
    """Claim up to `capacity` queued runs of the executor, in queue order, in this one transaction."""
    now = repo.database_now(session)
    lease_expires_at = now + timedelta(seconds=lease_seconds)
    runs = repo.lock_queued_runs(session, executor=data.executor, limit=data.capacity, org_id=scope.org_id)
    versions = repo.flow_versions(session, sorted({run.flow_version_id for run in runs}))
    claimed: list[ClaimedRun] = []
    for run in runs:
        set_run_state(
            session,
            run,
            RunState.RUNNING,
            now=now,
            lease_owner=data.worker_id,
            lease_expires_at=lease_expires_at,
        )
        claimed.append(
            ClaimedRun(
                run_id=run.id,
                attempt=run.attempt,
                org_id=run.org_id,
                flow_name=run.flow_name,
                flow_version=run.flow_version,
                flow_spec=versions[run.flow_version_id].flow_spec,
                parameters=run.parameters,
                execution_mode=run.execution_mode,
                lease_expires_at=lease_expires_at,
            )
        )
    session.flush()
    return claimed


def heartbeat(
    session: Session, *, scope: WorkerScope, run_id: str, data: HeartbeatRequest, lease_seconds: float
) -> HeartbeatResponse:
    """Extend the lease of a running attempt; the answer carries the user's cancel request."""
    run = _current_attempt(session, scope, run_id, data.worker_id, data.attempt)
    if run.status == RunState.RUNNING:
        run.lease_expires_at = repo.database_now(session) + timedelta(seconds=lease_seconds)
    return HeartbeatResponse(
        run_id=run.id, cancel_requested=run.cancel_requested, lease_expires_at=run.lease_expires_at
    )


def append_logs(session: Session, *, scope: WorkerScope, run_id: str, data: LogBatch) -> Accepted:
    run = _current_attempt(session, scope, run_id, data.worker_id, data.attempt)
    now = utcnow()
    rows = [
        RunLog(
            run_id=run.id,
            attempt=data.attempt,
            timestamp=line.timestamp,
            message=line.message,
            ingestion_time=now,
        )
        for line in data.lines
    ]
    repo.add_all(session, rows)
    return Accepted(run_id=run.id, accepted=len(rows))


def report_node_runs(session: Session, *, scope: WorkerScope, run_id: str, data: NodeRunBatch) -> Accepted:
    """Insert or advance one node-run row per (attempt, node)."""
    run = _current_attempt(session, scope, run_id, data.worker_id, data.attempt)
    for report in data.node_runs:
        node_run = repo.get_node_run(session, run.id, data.attempt, report.node_id)
        if node_run is None:
            node_run = NodeRun(
                run_id=run.id, attempt=data.attempt, node_id=report.node_id, node_type=report.node_type
            )
            session.add(node_run)
        set_node_run_state(
            node_run,
            report.status,
            started_at=report.started_at,
            completed_at=report.completed_at,
            output=report.output,
            error=report.error,
        )
    session.flush()
    return Accepted(run_id=run.id, accepted=len(data.node_runs))


def complete_run(
    session: Session, *, scope: WorkerScope, run_id: str, data: RunCompletion
) -> CompletionResponse:
    """The attempt's result. A failure with retries left goes back to the queue (orchestration decides);
    a run the user cancelled stays cancelled whatever the worker found."""
    run = _current_attempt(session, scope, run_id, data.worker_id, data.attempt)
    if run.status in (RunState.CANCELLED, data.status):
        return CompletionResponse(run_id=run.id, status=run.status)  # already recorded: a repeat or a cancel
    status, output, error = RunState(data.status), data.output, data.error
    if status == RunState.COMPLETED and len(json.dumps(output).encode()) > MAX_OUTPUT_BYTES:
        status, output = RunState.FAILED, None
        error = {"type": "output_too_large", "message": f"The run's output exceeds {MAX_OUTPUT_BYTES} bytes."}
    final = set_run_state(session, run, status, now=repo.database_now(session), output=output, error=error)
    return CompletionResponse(run_id=run.id, status=final)


def reap_expired_leases(session: Session, *, limit: int) -> int:
    """Runs whose worker stopped heartbeating go back to the queue, or fail when out of retries."""
    now = repo.database_now(session)
    runs = repo.lock_expired_leases(session, now=now, limit=limit)
    notes: list[RunLog] = []
    for run in runs:
        owner, attempt = run.lease_owner, run.attempt
        error = {
            "type": LEASE_EXPIRED,
            "message": f"Worker {owner} stopped heartbeating; the lease of attempt {attempt} expired.",
            "attempt": attempt,
        }
        final = set_run_state(session, run, RunState.FAILED, now=now, error=error)
        what = "re-queued" if final == RunState.QUEUED else "failed (no retries left)"
        notes.append(
            RunLog(
                run_id=run.id,
                attempt=attempt,
                timestamp=now,
                ingestion_time=now,
                message=f"[dagy] attempt {attempt} lost its worker {owner} (lease expired); run {what}",
            )
        )
    repo.add_all(session, notes)
    return len(runs)


def _current_attempt(session: Session, scope: WorkerScope, run_id: str, worker_id: str, attempt: int) -> Run:
    run = repo.lock_run(session, run_id, org_id=scope.org_id)
    if run is None:
        raise NotFound("Run not found.")
    if run.attempt != attempt or run.lease_owner != worker_id:
        raise Conflict(
            "This attempt no longer holds the run's lease.",
            details={"attempt": f"current attempt is {run.attempt}", "status": run.status},
            code="lease_lost",
        )
    return run
