"""`/workers/...`: the protocol `dagy worker` speaks. Authenticated by the installation worker token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from dagy.server.api.deps import SettingsDep, Tx
from dagy.server.api.security import CurrentPrincipal
from dagy.server.domains.workers import long_poll, service
from dagy.server.domains.workers.schemas import (
    Accepted,
    ClaimRequest,
    ClaimResponse,
    CompletionResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    LogBatch,
    NodeRunBatch,
    RunCompletion,
)
from dagy.server.domains.workers.service import WorkerScope
from dagy.server.errors import PermissionDenied
from dagy.server.identity import PrincipalKind
from dagy.server.orchestration import RunQueueSignal

router = APIRouter(prefix="/workers", tags=["Workers"])


async def worker_scope(principal: CurrentPrincipal) -> WorkerScope:
    """The installation worker token serves every org. An org API key with a worker scope would map
    to `WorkerScope(org_id=key's org)` here; nothing else changes (docs/runs.md)."""
    if principal.kind == PrincipalKind.WORKER:
        return WorkerScope(org_id=None)
    raise PermissionDenied("The worker protocol needs a worker token.")


async def run_queue(request: Request) -> RunQueueSignal:
    signal: RunQueueSignal = request.app.state.run_queue
    return signal


Scope = Annotated[WorkerScope, Depends(worker_scope)]
Signal = Annotated[RunQueueSignal, Depends(run_queue)]


@router.post("/claim", response_model=ClaimResponse)
async def claim_runs(
    body: ClaimRequest, tx: Tx, scope: Scope, signal: Signal, settings: SettingsDep
) -> ClaimResponse:
    """Claim up to `capacity` queued runs; waits up to `wait_seconds` for one to be queued."""
    queue = settings.queue
    runs = await long_poll.claim(
        tx,
        signal,
        scope=scope,
        data=body,
        lease_seconds=queue.lease_seconds,
        max_wait_seconds=queue.claim_wait_seconds,
    )
    return ClaimResponse(
        runs=runs, heartbeat_seconds=queue.heartbeat_seconds, lease_seconds=queue.lease_seconds
    )


@router.post("/runs/{run_id}/heartbeat", response_model=HeartbeatResponse)
async def heartbeat(
    run_id: str, body: HeartbeatRequest, tx: Tx, scope: Scope, settings: SettingsDep
) -> HeartbeatResponse:
    return await tx.run(
        service.heartbeat, scope=scope, run_id=run_id, data=body, lease_seconds=settings.queue.lease_seconds
    )


@router.post("/runs/{run_id}/logs", response_model=Accepted)
async def append_logs(run_id: str, body: LogBatch, tx: Tx, scope: Scope) -> Accepted:
    return await tx.run(service.append_logs, scope=scope, run_id=run_id, data=body)


@router.post("/runs/{run_id}/nodes", response_model=Accepted)
async def report_node_runs(run_id: str, body: NodeRunBatch, tx: Tx, scope: Scope) -> Accepted:
    return await tx.run(service.report_node_runs, scope=scope, run_id=run_id, data=body)


@router.post("/runs/{run_id}/complete", response_model=CompletionResponse)
async def complete_run(run_id: str, body: RunCompletion, tx: Tx, scope: Scope) -> CompletionResponse:
    return await tx.run(service.complete_run, scope=scope, run_id=run_id, data=body)
