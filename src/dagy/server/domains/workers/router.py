"""`/workers/...`: the worker protocol over HTTP (docs/workers.md). The queue it serves is the runs
domain's (`domains/runs/queue.py`); its bodies are `dagy.protocol`'s.

The protocol's routes are authenticated by the installation worker token (every org's runs) or by
an org's API key holding `WORKER_KEY_SCOPES` (that org's runs only). `GET /workers`, the fleet as
the server hears it (service.py), is a member's route (`runs.read`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from dagy.protocol import (
    Accepted,
    ClaimRequest,
    ClaimResponse,
    CompletionResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    LogBatch,
    NodeRunBatch,
    ObjectList,
    ObjectWritten,
    RunCompletion,
)
from dagy.protocol.models import WORKER_ID_PATTERN
from dagy.runtime.objects import DirectoryObjectStore
from dagy.server.api.deps import ArtifactStoreDep, SettingsDep, Tx
from dagy.server.api.security import CurrentActor, authenticates, bearer_token, get_actor, require_permission
from dagy.server.domains.runs import queue
from dagy.server.domains.runs.queue import WorkerScope
from dagy.server.domains.runs.tokens import ATTEMPT_TOKEN_PREFIX, RUN_TOKEN_PREFIX, is_run_attempt_token
from dagy.server.domains.workers import long_poll, objects
from dagy.server.domains.workers import service as workers
from dagy.server.domains.workers.objects import ObjectCaller
from dagy.server.domains.workers.schemas import WorkerList
from dagy.server.errors import PermissionDenied
from dagy.server.identity import PrincipalKind
from dagy.server.orchestration import RunQueueSignal
from dagy.server.settings import Settings

router = APIRouter(prefix="/workers", tags=["Workers"])


# A worker receives flow specs, decrypted secrets and runs them: an org's key serves as a worker
# only when it may do all three itself.
WORKER_KEY_SCOPES = ("flows.read", "runs.trigger", "secrets.read")


@authenticates
async def protocol_scope(request: Request, settings: SettingsDep) -> WorkerScope:
    """A worker's credential, or a run container's attempt token (good for its own attempt only)."""
    token = bearer_token(request)
    if token is not None and token.startswith(ATTEMPT_TOKEN_PREFIX):
        return WorkerScope(org_id=None, attempt=partial(_attempt_matches, token, settings))
    return await worker_scope(await get_actor(request))


def _attempt_matches(token: str, settings: Settings, run_id: str, attempt: int, worker_id: str) -> bool:
    return is_run_attempt_token(token, settings, run_id=run_id, attempt=attempt, worker_id=worker_id)


async def worker_scope(actor: CurrentActor) -> WorkerScope:
    """The installation worker token serves every org; an org's API key with the worker scopes
    serves its own org. Sessions of users are not workers."""
    principal = actor.principal
    assert principal is not None  # CurrentActor always carries the authenticated principal
    if principal.kind == PrincipalKind.WORKER:
        return WorkerScope(org_id=None, actor=actor)
    if principal.kind == PrincipalKind.API_KEY and principal.org_id is not None:
        missing = [scope for scope in WORKER_KEY_SCOPES if scope not in principal.permissions]
        if not missing:
            return WorkerScope(org_id=principal.org_id, actor=actor)
        raise PermissionDenied(
            f"A worker's API key needs the scopes {', '.join(WORKER_KEY_SCOPES)}.",
            details={"scopes": f"missing: {', '.join(missing)}"},
        )
    raise PermissionDenied("The worker protocol needs the worker token or an org's API key.")


async def run_queue(request: Request) -> RunQueueSignal:
    signal: RunQueueSignal = request.app.state.run_queue
    return signal


@authenticates
async def object_caller(request: Request) -> ObjectCaller:
    """The object routes also take a run's object token (its process's credential, see tokens.py)."""
    token = bearer_token(request)
    if token is not None and token.startswith(RUN_TOKEN_PREFIX):
        return ObjectCaller(run_token=token)
    return ObjectCaller(scope=await worker_scope(await get_actor(request)))


@dataclass(frozen=True)
class Lease:
    """`?worker_id=&attempt=`: the lease a read names (writes carry it in their body)."""

    worker_id: str
    attempt: int


async def lease_query(
    worker_id: Annotated[str, Query(pattern=WORKER_ID_PATTERN)], attempt: Annotated[int, Query(ge=1)]
) -> Lease:
    return Lease(worker_id=worker_id, attempt=attempt)


Scope = Annotated[WorkerScope, Depends(protocol_scope)]
Signal = Annotated[RunQueueSignal, Depends(run_queue)]
Caller = Annotated[ObjectCaller, Depends(object_caller)]
LeaseQuery = Annotated[Lease, Depends(lease_query)]


@router.get("", response_model=WorkerList, dependencies=[Depends(require_permission("runs.read"))])
async def list_workers(
    tx: Tx,
    actor: CurrentActor,
    seen_within_seconds: Annotated[int, Query(ge=1, le=7 * 24 * 3600)] = 600,
) -> WorkerList:
    """The workers that serve this org (its own API keys' and the installation's) heard from within
    `seen_within_seconds` (default 10 minutes), most recently heard from first."""
    return await tx.run(workers.list_workers, actor=actor, seen_within_seconds=seen_within_seconds)


@router.post("/claim", response_model=ClaimResponse)
async def claim_runs(
    request: Request, body: ClaimRequest, *, tx: Tx, scope: Scope, signal: Signal, settings: SettingsDep
) -> ClaimResponse:
    """Claim up to `capacity` queued runs; waits up to `wait_seconds` for one to be queued."""
    if scope.attempt is not None:
        raise PermissionDenied("A run's attempt token cannot claim runs.")
    queue = settings.queue
    runs = await long_poll.claim(
        tx,
        signal,
        scope=scope,
        data=body,
        lease_seconds=queue.lease_seconds,
        max_wait_seconds=queue.claim_wait_seconds,
        settings=settings,
        disconnected=request.is_disconnected,
        tracing=request.app.state.tracing,
    )
    return ClaimResponse(
        runs=runs, heartbeat_seconds=queue.heartbeat_seconds, lease_seconds=queue.lease_seconds
    )


@router.post("/runs/{run_id}/heartbeat", response_model=HeartbeatResponse)
async def heartbeat(
    run_id: str, body: HeartbeatRequest, tx: Tx, scope: Scope, settings: SettingsDep
) -> HeartbeatResponse:
    return await tx.run(
        queue.heartbeat, scope=scope, run_id=run_id, data=body, lease_seconds=settings.queue.lease_seconds
    )


@router.post("/runs/{run_id}/logs", response_model=Accepted)
async def append_logs(run_id: str, body: LogBatch, tx: Tx, scope: Scope) -> Accepted:
    return await tx.run(queue.append_logs, scope=scope, run_id=run_id, data=body)


@router.post("/runs/{run_id}/nodes", response_model=Accepted)
async def report_node_runs(run_id: str, body: NodeRunBatch, tx: Tx, scope: Scope) -> Accepted:
    return await tx.run(queue.report_node_runs, scope=scope, run_id=run_id, data=body)


@router.post("/runs/{run_id}/complete", response_model=CompletionResponse)
async def complete_run(run_id: str, body: RunCompletion, tx: Tx, scope: Scope) -> CompletionResponse:
    return await tx.run(queue.complete_run, scope=scope, run_id=run_id, data=body)


@router.get("/runs/{run_id}/artifact", response_class=FileResponse)
async def download_artifact(
    run_id: str,
    tx: Tx,
    scope: Scope,
    settings: SettingsDep,
    store: ArtifactStoreDep,
    *,
    worker_id: Annotated[str, Query(pattern=WORKER_ID_PATTERN)],
    attempt: Annotated[int, Query(ge=1)],
) -> Response:
    """The code flow's zip, streamed to the worker holding the run's lease (from the local folder, or
    from the S3 artifact store)."""
    found = await tx.run(
        queue.artifact_path,
        scope=scope,
        run_id=run_id,
        worker_id=worker_id,
        attempt=attempt,
        settings=settings,
        store=store,
    )
    if isinstance(found, str):
        disposition = {"Content-Disposition": f'attachment; filename="{run_id}.zip"'}
        return StreamingResponse(store.chunks(found), media_type="application/zip", headers=disposition)
    return FileResponse(found, media_type="application/zip", filename=f"{run_id}.zip")


@router.get("/runs/{run_id}/objects", response_model=ObjectList)
async def list_objects(
    run_id: str,
    tx: Tx,
    caller: Caller,
    *,
    lease: LeaseQuery,
    settings: SettingsDep,
    prefix: Annotated[str, Query(max_length=1024)] = "",
) -> ObjectList:
    """Full keys under `prefix` (relative to the org's data, like any key), for the run's lease holder."""
    store = await _run_store(tx, caller, run_id, lease, settings)
    return ObjectList(keys=await anyio.to_thread.run_sync(objects.list_objects, store, prefix))


@router.get("/runs/{run_id}/objects/{key:path}", response_class=FileResponse)
async def get_object(
    run_id: str, key: str, tx: Tx, caller: Caller, *, lease: LeaseQuery, settings: SettingsDep
) -> FileResponse:
    """One object of the run's org, streamed."""
    store = await _run_store(tx, caller, run_id, lease, settings)
    path = await anyio.to_thread.run_sync(objects.object_file, store, key)
    return FileResponse(path, media_type="application/octet-stream")


@router.put("/runs/{run_id}/objects/{key:path}", response_model=ObjectWritten)
async def put_object(
    run_id: str,
    key: str,
    request: Request,
    tx: Tx,
    *,
    caller: Caller,
    lease: LeaseQuery,
    settings: SettingsDep,
) -> ObjectWritten:
    """Store the body under `key` (replacing it atomically): the org's data or the run's own folder."""
    store = await _run_store(tx, caller, run_id, lease, settings)
    objects.object_key(store, key, write=True)  # refuse before reading the body
    data = await _object_body(request, settings.max_object_bytes)
    full = await anyio.to_thread.run_sync(objects.write_object, store, key, data)
    return ObjectWritten(key=full, bytes=len(data))


async def _run_store(
    tx: Tx, caller: ObjectCaller, run_id: str, lease: Lease, settings: SettingsDep
) -> DirectoryObjectStore:
    return await tx.read(
        objects.run_store,
        caller=caller,
        run_id=run_id,
        worker_id=lease.worker_id,
        attempt=lease.attempt,
        settings=settings,
    )


async def _object_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise objects.object_too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise objects.object_too_large(limit)
    return bytes(body)
