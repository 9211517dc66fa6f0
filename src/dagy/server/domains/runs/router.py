"""`/runs`: trigger, list, read, cancel, retry and rerun, approve and reject, logs and node runs
(tasks)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from pydantic import AwareDatetime

from dagy.server.api.deps import SettingsDep, Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.responses import JSONBytesResponse, page_response
from dagy.server.api.schemas import page_params
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.runs import approvals, retries, service, trigger
from dagy.server.domains.runs.schemas import (
    NodeRunList,
    RunCancelled,
    RunDecided,
    RunDecision,
    RunLogs,
    RunPage,
    RunRead,
    RunRerun,
    RunRetried,
    RunTrigger,
    RunTriggered,
)

router = APIRouter(prefix="/runs", tags=["Runs"])

_read = [Depends(require_permission("runs.read"))]
_TRIGGERS = "What started the runs: manual, api_key, schedule, sensor or webhook."


@router.post(
    "",
    status_code=202,
    response_model=RunTriggered,
    response_class=JSONBytesResponse,
    dependencies=[Depends(require_permission("runs.trigger"))],
)
async def trigger_run(
    body: RunTrigger,
    tx: Tx,
    actor: CurrentActor,
    settings: SettingsDep,
    x_idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONBytesResponse:
    """Queue a run; the same `X-Idempotency-Key` answers the run it first created (for 24 h).

    Concurrent triggers share one transaction (group commit); each is still all or nothing. The
    answer, already a `RunTriggered`, is rendered once (api/responses.py)."""
    triggered = await tx.grouped(
        trigger.trigger_run,
        actor=actor,
        data=body,
        idempotency_key=x_idempotency_key,
        settings=settings,
    )
    return JSONBytesResponse(triggered.model_dump(), status_code=202)


_AFTER = "Runs created at or after this time (ISO 8601 with its offset)."
_BEFORE = "Runs created before this time (ISO 8601 with its offset)."


async def run_filters(
    *,
    flow_name: Annotated[str | None, Query(max_length=128)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    trigger: Annotated[str | None, Query(max_length=16, description=_TRIGGERS)] = None,
    schedule_id: Annotated[str | None, Query(max_length=128, description="A schedule's runs.")] = None,
    sensor_id: Annotated[str | None, Query(max_length=64, description="A sensor's runs.")] = None,
    created_after: Annotated[AwareDatetime | None, Query(description=_AFTER)] = None,
    created_before: Annotated[AwareDatetime | None, Query(description=_BEFORE)] = None,
) -> service.RunFilters:
    return service.RunFilters(
        flow_name, status, trigger, schedule_id, sensor_id, created_after, created_before
    )


@router.get("", response_model=RunPage, response_class=JSONBytesResponse, dependencies=_read)
async def list_runs(
    tx: Tx,
    actor: CurrentActor,
    page: Annotated[PageRequest, Depends(page_params(20, 100))],
    filters: Annotated[service.RunFilters, Depends(run_filters)],
) -> JSONBytesResponse:
    return page_response(await tx.list(service.list_runs, actor=actor, page=page, filters=filters))


@router.get("/{run_id}", response_model=RunRead, dependencies=_read)
async def get_run(run_id: str, tx: Tx, actor: CurrentActor) -> RunRead:
    return await tx.run(service.get_run, actor=actor, run_id=run_id)


@router.post(
    "/{run_id}/cancel", response_model=RunCancelled, dependencies=[Depends(require_permission("runs.cancel"))]
)
async def cancel_run(run_id: str, tx: Tx, actor: CurrentActor) -> RunCancelled:
    return await tx.run(service.cancel_run, actor=actor, run_id=run_id)


_trigger = [Depends(require_permission("runs.trigger"))]


@router.post("/{run_id}/retry", status_code=202, response_model=RunRetried, dependencies=_trigger)
async def retry_run(run_id: str, tx: Tx, actor: CurrentActor) -> RunRetried:
    """Queue a failed or cancelled run again; its next attempt reuses what earlier attempts completed."""
    return await tx.run(retries.retry_run, actor=actor, run_id=run_id)


@router.post("/{run_id}/rerun", status_code=202, response_model=RunTriggered, dependencies=_trigger)
async def rerun_run(
    run_id: str, tx: Tx, actor: CurrentActor, settings: SettingsDep, body: RunRerun | None = None
) -> RunTriggered:
    """Queue a new run of the run's flow version, settings and parameters (overridden by the body's)."""
    return await tx.run(
        retries.rerun_run, actor=actor, run_id=run_id, data=body or RunRerun(), settings=settings
    )


@router.post("/{run_id}/approve", status_code=202, response_model=RunDecided, dependencies=_trigger)
async def approve_run(
    run_id: str, tx: Tx, actor: CurrentActor, body: RunDecision | None = None
) -> RunDecided:
    """Approve the approval node the run waits for: the run is queued and its next attempt resumes
    after the nodes it completed, the node's output being the decision."""
    return await tx.run(
        approvals.decide_run, actor=actor, run_id=run_id, approved=True, data=body or RunDecision()
    )


@router.post("/{run_id}/reject", response_model=RunDecided, dependencies=_trigger)
async def reject_run(run_id: str, tx: Tx, actor: CurrentActor, body: RunDecision | None = None) -> RunDecided:
    """Reject the approval node the run waits for: the node and the run fail, naming who and why."""
    return await tx.run(
        approvals.decide_run, actor=actor, run_id=run_id, approved=False, data=body or RunDecision()
    )


@router.get("/{run_id}/logs", response_model=RunLogs, dependencies=_read)
async def get_run_logs(
    run_id: str,
    tx: Tx,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    next_token: Annotated[str | None, Query(max_length=64)] = None,
) -> RunLogs:
    return await tx.run(service.get_run_logs, actor=actor, run_id=run_id, limit=limit, next_token=next_token)


@router.get("/{run_id}/tasks", response_model=NodeRunList, dependencies=_read)
async def list_node_runs(run_id: str, tx: Tx, actor: CurrentActor) -> NodeRunList:
    """One row per node and attempt, as the worker reported it."""
    return await tx.run(service.list_node_runs, actor=actor, run_id=run_id)
