"""The run queue: claims, heartbeats, reports and results of the worker protocol, and the reaper's
one decision. The HTTP side of the protocol is `domains/workers/` (its router), its bodies
`dagy.protocol`.

A worker acts within a `WorkerScope`: the installation worker token serves every org (scope
`org_id=None`); an org's API key serves that org only — every query here filters by the scope's
org, so another org's run does not exist for such a worker (404).

Every write names the worker and the attempt. A write for an attempt that is not the run's
current one, or from a worker that no longer holds the lease, is a `Conflict` (409): a worker that
comes back after its lease expired cannot overwrite the attempt that replaced it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from dagy.protocol import (
    Accepted,
    ClaimedRun,
    ClaimRequest,
    CompletionResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    LogBatch,
    LogLine,
    NodeRunBatch,
    NodeRunReport,
    RunCompletion,
)
from dagy.server.db.base import new_id, utcnow
from dagy.server.db.models import FlowVersion, Run, RunLog
from dagy.server.domains.audit_logs.service import Action, record
from dagy.server.domains.concurrency.admission import Gate, Refusal
from dagy.server.domains.concurrency.schemas import CollisionStrategy
from dagy.server.domains.runs import approvals
from dagy.server.domains.runs import repository as repo
from dagy.server.domains.runs.payload import UnresolvedSecret, run_payload
from dagy.server.domains.runs.tokens import run_object_token
from dagy.server.domains.workers import service as workers
from dagy.server.errors import Conflict, InvalidInput, NotFound, Unauthorized
from dagy.server.identity import SYSTEM_ACTOR, Actor
from dagy.server.orchestration import (
    CLAIM_NOT_DELIVERED,
    LEASE_EXPIRED,
    ON_RETRY,
    NodeRunState,
    RunState,
    advance_node_run,
    extend_lease,
    set_run_state,
)
from dagy.server.settings import Settings
from dagy.storage import ArtifactStore
from dagy.tracing import Tracing

MAX_OUTPUT_BYTES = 1024 * 1024
# How far down the queue a claim looks past runs its concurrency limits pass over: windows of at
# least this many runs, at most this many windows.
CLAIM_WINDOW = 50
MAX_CLAIM_WINDOWS = 5
OBJECTS_DIR = "objects"


# A run container's attempt token, checked against the (run id, attempt, worker id) a call names.
AttemptCheck = Callable[[str, int, str], bool]


@dataclass(frozen=True)
class WorkerScope:
    """Which org's runs a worker may see: None is every org (the installation worker token).
    `actor` is the worker as the audit trail names it. `attempt`: the caller is a run container
    holding an attempt token (tokens.py), good for that one attempt only and unable to claim."""

    org_id: str | None
    actor: Actor = field(default=SYSTEM_ACTOR)
    attempt: AttemptCheck | None = None


def claim_runs(
    session: Session,
    *,
    scope: WorkerScope,
    data: ClaimRequest,
    lease_seconds: float,
    settings: Settings,
    tracing: Tracing | None = None,
) -> list[ClaimedRun]:
    """Claim up to `capacity` queued runs of the executor, in queue order, in this one transaction.

    A run whose secrets cannot be handed out fails here and is not part of the answer. With
    `tracing`, each claimed run's attempt gets its `run.dispatch` span (dagy/tracing.py).
    """
    now = repo.database_now(session)
    workers.heard_from_claim(
        session,
        org_id=scope.org_id,
        worker_id=data.worker_id,
        executor=data.executor,
        concurrency=data.concurrency or data.capacity,
        isolation=data.isolation,
        now=now,
    )
    lease_expires_at = now + timedelta(seconds=lease_seconds)
    gate = Gate(session, now=now)
    runs, versions = _claimable_runs(session, gate=gate, scope=scope, data=data, now=now)
    started = Started(scope=scope, data=data, lease_expires_at=lease_expires_at, now=now, settings=settings)
    if not gate.tentative:
        claimed = _start(session, runs, versions, started)
    else:  # admitted on the limits' unlocked counts (admission.py): confirmed once started
        savepoint = session.begin_nested()
        claimed = _start(session, runs, versions, started)
        if gate.confirm():
            savepoint.commit()
        else:  # another claim took the slots meanwhile: start again, on the locked counts
            savepoint.rollback()
            verdict = gate.admit(runs, versions, room=data.capacity)
            for refusal in verdict.refused:
                _refuse(session, refusal, now)
            claimed = _start(session, verdict.admitted, versions, started)
    if tracing is not None:
        for run, queued_at in claimed:
            tracing.run_dispatched(
                run_id=run.run_id,
                attempt=run.attempt,
                org_id=run.org_id,
                flow_name=run.flow_name,
                executor=data.executor,
                worker_id=data.worker_id,
                queued_at=queued_at,
                claimed_at=now,
            )
    session.flush()
    return [run for run, _ in claimed]


@dataclass(frozen=True)
class Started:
    """What every run a claim starts shares."""

    scope: WorkerScope
    data: ClaimRequest
    lease_expires_at: datetime
    now: datetime
    settings: Settings


def _start(
    session: Session, runs: Sequence[Run], versions: dict[str, FlowVersion], started: Started
) -> list[tuple[ClaimedRun, datetime]]:
    """Start the runs under the claiming worker's lease, with their payloads; each with the time it
    was queued. A run whose secrets cannot be handed out fails instead."""
    data, now, settings = started.data, started.now, started.settings
    lease_expires_at = started.lease_expires_at
    claimed: list[tuple[ClaimedRun, datetime]] = []
    for run in runs:
        queued_at = run.updated_at  # when it was queued: created, or sent back for a retry
        set_run_state(
            session,
            run,
            RunState.RUNNING,
            now=now,
            lease_owner=data.worker_id,
            lease_expires_at=lease_expires_at,
        )
        version = versions[run.flow_version_id]
        try:
            payload = run_payload(session, run, version, settings=settings)
        except UnresolvedSecret as missing:
            set_run_state(session, run, RunState.FAILED, now=now, error=missing.error)
            continue
        _audit_secret_reads(session, started.scope, run, data.worker_id, sorted(payload["secrets"]))
        payload["objects_token"] = run_object_token(
            settings, run_id=run.id, attempt=run.attempt, worker_id=data.worker_id
        )
        claimed.append((_claimed(run, version, lease_expires_at, payload), queued_at))
    return claimed


def _claimable_runs(
    session: Session, *, gate: Gate, scope: WorkerScope, data: ClaimRequest, now: datetime
) -> tuple[list[Run], dict[str, FlowVersion]]:
    """Up to `capacity` queued runs, in queue order, locked, that fit their concurrency limits
    (domains/concurrency/admission.py), with their flow versions. Runs a limit passes over stay
    queued, so the claim looks further down the queue, a window at a time, up to
    `MAX_CLAIM_WINDOWS`; runs a limit refuses end here (cancelled or failed)."""
    runs: list[Run] = []
    versions: dict[str, FlowVersion] = {}
    after: Run | None = None
    size = data.capacity
    for _ in range(MAX_CLAIM_WINDOWS):
        window = repo.lock_queued_runs(
            session, executor=data.executor, limit=size, org_id=scope.org_id, after=after
        )
        wanted = {run.flow_version_id for run in window} - versions.keys()
        versions |= repo.flow_versions(session, sorted(wanted))
        verdict = gate.admit(window, versions, room=data.capacity - len(runs))
        runs += verdict.admitted
        for refusal in verdict.refused:
            _refuse(session, refusal, now)
        if len(window) < size or len(runs) >= data.capacity:
            break
        after, size = window[-1], max(data.capacity - len(runs), CLAIM_WINDOW)
    return runs, versions


def _refuse(session: Session, refusal: Refusal, now: datetime) -> None:
    """End a run a concurrency limit refuses (`cancel_new`: cancelled, `fail`: failed), saying why."""
    run, error = refusal.run, refusal.error
    state = RunState.CANCELLED if refusal.strategy == CollisionStrategy.CANCEL_NEW else RunState.FAILED
    set_run_state(session, run, state, now=now, error=error)
    repo.add_logs(session, [_note(run, run.attempt, now, f"[ERROR] {error['message']} The run was {state}.")])


def _claimed(
    run: Run, version: FlowVersion, lease_expires_at: datetime, payload: dict[str, Any]
) -> ClaimedRun:
    return ClaimedRun(
        run_id=run.id,
        attempt=run.attempt,
        org_id=run.org_id,
        flow_name=run.flow_name,
        flow_version=run.flow_version,
        flow_spec=version.flow_spec,
        parameters=run.parameters,
        execution_mode=run.execution_mode,
        lease_expires_at=lease_expires_at,
        **payload,
    )


def _audit_secret_reads(
    session: Session, scope: WorkerScope, run: Run, worker_id: str, names: list[str]
) -> None:
    """One row per claimed run that received secret values: which secrets, which worker, which attempt."""
    if not names:
        return
    record(
        session,
        actor=scope.actor,
        action=Action.READ,
        resource_type="run",
        resource_id=run.id,
        resource_name=run.run_slug,
        changes={"secrets_read": names, "worker_id": worker_id, "attempt": run.attempt},
        org_id=run.org_id,
    )


def heartbeat(
    session: Session, *, scope: WorkerScope, run_id: str, data: HeartbeatRequest, lease_seconds: float
) -> HeartbeatResponse:
    """Extend the lease of a running attempt; the answer carries the user's cancel request."""
    run = current_attempt(session, scope, run_id, data.worker_id, data.attempt)
    now = repo.database_now(session)
    extend_lease(run, until=now + timedelta(seconds=lease_seconds))
    workers.heard_from(session, org_id=scope.org_id, worker_id=data.worker_id, now=now)
    return HeartbeatResponse(
        run_id=run.id, cancel_requested=run.cancel_requested, lease_expires_at=run.lease_expires_at
    )


def attempt_status(
    session: Session, *, scope: WorkerScope, run_id: str, worker_id: str, attempt: int
) -> RunState | None:
    """The run's status while `worker_id` holds its current attempt `attempt` (the row locked, as a
    heartbeat locks it); None once another attempt, or no such run. A run keeps its last lease
    holder when it ends, so this tells an attempt that ended from one still running."""
    run = repo.get_run(session, run_id, org_id=scope.org_id, lock=True)
    if run is None or run.attempt != attempt or run.lease_owner != worker_id:
        return None
    return RunState(run.status)


def append_logs(session: Session, *, scope: WorkerScope, run_id: str, data: LogBatch) -> Accepted:
    run = current_attempt(session, scope, run_id, data.worker_id, data.attempt)
    _add_logs(session, run, data.attempt, data.lines)
    return Accepted(run_id=run.id, accepted=len(data.lines))


def _add_logs(session: Session, run: Run, attempt: int, lines: Sequence[LogLine]) -> None:
    now = utcnow()
    rows = [
        RunLog(
            run_id=run.id, attempt=attempt, timestamp=line.timestamp, message=line.message, ingestion_time=now
        )
        for line in lines
    ]
    repo.add_logs(session, rows)


def report_node_runs(session: Session, *, scope: WorkerScope, run_id: str, data: NodeRunBatch) -> Accepted:
    run = current_attempt(session, scope, run_id, data.worker_id, data.attempt)
    _record_node_runs(session, run, data.attempt, data.node_runs, data.worker_id)
    return Accepted(run_id=run.id, accepted=len(data.node_runs))


def _record_node_runs(
    session: Session, run: Run, attempt: int, reports: Sequence[NodeRunReport], worker_id: str
) -> None:
    """Insert or advance one node-run row per (attempt, node): the batch's new rows in one INSERT,
    its changed rows in one UPDATE, and an `on_retry` run event for each `retrying` report."""
    if not reports:
        return
    known = repo.node_run_states(session, run.id, attempt, {r.node_id for r in reports})
    now = utcnow()
    new: dict[str, dict[str, Any]] = {}
    changed: dict[str, dict[str, Any]] = {}
    events: list[dict[str, Any]] = []
    for report in reports:
        current = new.get(report.node_id) or changed.get(report.node_id) or known.get(report.node_id)
        fields = advance_node_run(
            current,
            report.status,
            tries=report.tries,
            started_at=report.started_at,
            completed_at=report.completed_at,
            output=report.output,
            error=report.error,
        )
        if fields is None:
            continue
        if report.node_id in known:
            changed[report.node_id] = {**known[report.node_id], **fields, "updated_at": now}
        else:
            identity = {"run_id": run.id, "attempt": attempt, "node_id": report.node_id}
            identity["worker_id"] = worker_id
            row_id = new[report.node_id]["id"] if report.node_id in new else new_id("node")
            new[report.node_id] = {"id": row_id, **identity, "node_type": report.node_type, **fields}
            new[report.node_id]["updated_at"] = now
        if report.status == NodeRunState.RETRYING:
            events.append(_node_retry_event(run, attempt, fields, report.node_id, now))
    repo.insert_node_runs(session, list(new.values()))
    repo.update_node_runs(session, [_update_row(row) for row in changed.values()])
    repo.insert_run_events(session, events)


_UPDATED_FIELDS = ("id", "status", "tries", "started_at", "completed_at", "output", "error", "updated_at")


def _update_row(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in _UPDATED_FIELDS}


def _node_retry_event(
    run: Run, attempt: int, fields: dict[str, Any], node_id: str, now: datetime
) -> dict[str, Any]:
    return {
        "id": new_id("rev"),
        "org_id": run.org_id,
        "run_id": run.id,
        "type": ON_RETRY,
        "node_id": node_id,
        "payload": {"attempt": attempt, "tries": fields["tries"], "error": fields["error"]},
        "created_at": now,
    }


def artifact_path(
    session: Session,
    *,
    scope: WorkerScope,
    run_id: str,
    worker_id: str,
    attempt: int,
    settings: Settings,
    store: ArtifactStore,
) -> Path | str:
    """The code flow's zip, for the worker holding the run's lease: its file in the local object
    store, or its key in the installation's S3 artifact store (`s3://<DAGY_S3_BUCKET>/...`)."""
    run = current_attempt(session, scope, run_id, worker_id, attempt, lock=False)
    version = repo.flow_versions(session, [run.flow_version_id])[run.flow_version_id]
    uri = version.artifact_s3_uri
    if uri is None:
        raise NotFound("This run's flow version has no artifact.")
    key = store.key_of(uri) if uri.startswith("s3://") else None
    if key is not None:
        if not store.exists(key):
            raise NotFound("The artifact is not in the artifact store.", details={"artifact_s3_uri": uri})
        return key
    if uri.startswith("s3://"):  # 400, not 409: a worker reads 409 as a lost lease
        raise InvalidInput(
            "The artifact is in an external S3 bucket; the server does not fetch external artifacts yet. "
            "Register the flow with an artifact in the server's object store (dagy/flows/...).",
            details={"artifact_s3_uri": uri},
            code="external_artifact",
        )
    root = (settings.home / OBJECTS_DIR).resolve()
    path = (root / uri).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound("The artifact is not in the object store.", details={"artifact_s3_uri": uri})
    return path


def complete_run(
    session: Session, *, scope: WorkerScope, run_id: str, data: RunCompletion
) -> CompletionResponse:
    """The attempt's result, with its last node runs and log lines. A failure with retries left goes
    back to the queue (orchestration decides); a run the user cancelled stays cancelled whatever the
    worker found; an attempt that paused at an approval node leaves the run waiting (approvals.py)."""
    run = current_attempt(session, scope, run_id, data.worker_id, data.attempt)
    cancelled = run.status == RunState.CANCELLED
    if run.status == data.status and not cancelled:
        return CompletionResponse(run_id=run.id, status=run.status)  # already recorded: a repeat
    _record_node_runs(session, run, data.attempt, data.node_runs, data.worker_id)
    _add_logs(session, run, data.attempt, data.logs)
    if cancelled:  # the user's cancel stands; the worker's last reports are recorded all the same
        approvals.end_unfinished_node_runs(session, run, data.attempt, now=repo.database_now(session))
        return CompletionResponse(run_id=run.id, status=run.status)
    if data.waiting_for is not None:
        approvals.hold_run(session, run, data.waiting_for, now=repo.database_now(session))
        return CompletionResponse(run_id=run.id, status=run.status)
    status, output, error = RunState(data.status), data.output, data.error
    if status == RunState.COMPLETED and len(json.dumps(output).encode()) > MAX_OUTPUT_BYTES:
        status, output = RunState.FAILED, None
        error = {"type": "output_too_large", "message": f"The run's output exceeds {MAX_OUTPUT_BYTES} bytes."}
    now = repo.database_now(session)
    final = set_run_state(session, run, status, now=now, output=output, error=error)
    if status != RunState.COMPLETED:
        approvals.end_unfinished_node_runs(session, run, data.attempt, now=now)
    if final == RunState.QUEUED:
        repo.add_logs(session, [_note(run, data.attempt, now, f"[WARNING] {_requeued(run)}")])
    return CompletionResponse(run_id=run.id, status=final)


def _requeued(run: Run) -> str:
    return f"the run goes back to the queue for attempt {run.attempt + 1} (retry {run.retry_count})"


def _note(run: Run, attempt: int, now: datetime, message: str) -> RunLog:
    """A line the server writes in the run's log."""
    return RunLog(run_id=run.id, attempt=attempt, timestamp=now, ingestion_time=now, message=message)


def reap_expired_leases(session: Session, *, limit: int) -> int:
    """Runs whose worker stopped heartbeating go back to the queue, or fail when out of retries. An
    attempt that never reported anything never reached its worker (`claim_not_delivered`)."""
    now = repo.database_now(session)
    runs = repo.lock_expired_leases(session, now=now, limit=limit)
    notes: list[RunLog] = []
    for run in runs:
        owner, attempt = run.lease_owner, run.attempt
        if repo.attempt_reported(session, run.id, attempt):
            error = {
                "type": LEASE_EXPIRED,
                "message": f"Worker {owner} stopped heartbeating; the lease of attempt {attempt} expired.",
                "attempt": attempt,
            }
            lost = f"[ERROR] Attempt {attempt} lost its worker {owner} (lease expired)"
        else:
            error = _undelivered(owner, attempt, "never reported starting it")
            lost = f"[WARNING] Attempt {attempt} never reached worker {owner}"
        what_next = _fail_attempt(session, run, error, now)
        approvals.end_unfinished_node_runs(session, run, attempt, now=now)
        notes.append(_note(run, attempt, now, f"{lost}; {what_next}"))
    repo.add_logs(session, notes)
    return len(runs)


def give_back_claims(
    session: Session, *, scope: WorkerScope, worker_id: str, runs: Sequence[ClaimedRun]
) -> None:
    """The claim's answer cannot reach `worker_id` (its connection has gone): the runs it was given
    go back to the queue at once, without using a retry, instead of waiting for their leases."""
    now = repo.database_now(session)
    notes: list[RunLog] = []
    for claimed in runs:
        run = repo.get_run(session, claimed.run_id, org_id=scope.org_id, lock=True)
        if run is None or run.status != RunState.RUNNING or run.attempt != claimed.attempt:
            continue
        if run.lease_owner != worker_id:
            continue
        error = _undelivered(worker_id, run.attempt, "went away before the claim was answered")
        what_next = _fail_attempt(session, run, error, now)
        message = f"[WARNING] Attempt {run.attempt} never reached worker {worker_id}; {what_next}"
        notes.append(_note(run, run.attempt, now, message))
    repo.add_logs(session, notes)


def _undelivered(worker_id: str | None, attempt: int, why: str) -> dict[str, Any]:
    return {
        "type": CLAIM_NOT_DELIVERED,
        "message": f"Attempt {attempt} was claimed for worker {worker_id}, which {why}.",
        "attempt": attempt,
    }


def _fail_attempt(session: Session, run: Run, error: dict[str, Any], now: datetime) -> str:
    """Propose `failed` for the run's attempt; answer what became of the run, for its log."""
    retries_before = run.retry_count
    if set_run_state(session, run, RunState.FAILED, now=now, error=error) != RunState.QUEUED:
        return "the run failed (no retries left)"
    if run.retry_count == retries_before:
        return f"the run goes back to the queue for attempt {run.attempt + 1} (no retry used)"
    return _requeued(run)


def current_attempt(
    session: Session, scope: WorkerScope, run_id: str, worker_id: str, attempt: int, *, lock: bool = True
) -> Run:
    """The run when `worker_id` holds the lease of its current attempt `attempt`: NotFound outside
    the scope's org, Conflict (`lease_lost`) otherwise; Unauthorized for an attempt token of another
    attempt."""
    if scope.attempt is not None and not scope.attempt(run_id, attempt, worker_id):
        raise Unauthorized("The attempt token does not match this run, attempt and worker.")
    run = repo.get_run(session, run_id, org_id=scope.org_id, lock=lock)
    if run is None:
        raise NotFound("Run not found.")
    if run.attempt != attempt or run.lease_owner != worker_id:
        raise Conflict(
            "This attempt no longer holds the run's lease.",
            details={"attempt": f"current attempt is {run.attempt}", "status": run.status},
            code="lease_lost",
        )
    return run
