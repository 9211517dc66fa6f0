"""`/schedules`: create, list, read, change, delete, trigger by hand, backfill, and the runs one
started."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from dagy.server.api.deps import SettingsDep, Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.responses import JSONBytesResponse, page_response
from dagy.server.api.schemas import page_params
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.schedules import backfill, service
from dagy.server.domains.schedules.schemas import (
    ScheduleBackfillCreate,
    ScheduleBackfillRead,
    ScheduleCreate,
    SchedulePage,
    ScheduleRead,
    ScheduleRunPage,
    ScheduleTrigger,
    ScheduleTriggered,
    ScheduleUpdate,
)

router = APIRouter(prefix="/schedules", tags=["Scheduling"])

_read = [Depends(require_permission("schedules.read"))]
_write = [Depends(require_permission("schedules.write"))]
Paging = Annotated[PageRequest, Depends(page_params(default=20, maximum=100))]


@router.post("", status_code=201, response_model=ScheduleRead, dependencies=_write)
async def create_schedule(body: ScheduleCreate, tx: Tx, actor: CurrentActor) -> ScheduleRead:
    """cron needs `cron_expression`, interval `interval_seconds` (at least 60), one_time
    `one_time_at` or `start_at`, manual nothing."""
    return await tx.run(service.create_schedule, actor=actor, data=body)


@router.get("", response_model=SchedulePage, response_class=JSONBytesResponse, dependencies=_read)
async def list_schedules(
    tx: Tx,
    actor: CurrentActor,
    page: Paging,
    *,
    flow_name: Annotated[str | None, Query(max_length=128)] = None,
    mode: Annotated[str | None, Query(max_length=16)] = None,
    enabled: bool | None = None,
) -> JSONBytesResponse:
    """By schedule id."""
    schedules = await tx.list(
        service.list_schedules, actor=actor, page=page, flow_name=flow_name, mode=mode, enabled=enabled
    )
    return page_response(schedules)


@router.get("/{schedule_id}", response_model=ScheduleRead, dependencies=_read)
async def get_schedule(schedule_id: str, tx: Tx, actor: CurrentActor) -> ScheduleRead:
    return await tx.run(service.get_schedule, actor=actor, schedule_id=schedule_id)


@router.patch("/{schedule_id}", response_model=ScheduleRead, dependencies=_write)
async def update_schedule(
    schedule_id: str, body: ScheduleUpdate, tx: Tx, actor: CurrentActor
) -> ScheduleRead:
    """Only the fields given change; `next_run_at` is computed again."""
    return await tx.run(service.update_schedule, actor=actor, schedule_id=schedule_id, data=body)


@router.delete(
    "/{schedule_id}",
    status_code=204,
    response_class=Response,
    dependencies=[Depends(require_permission("schedules.delete"))],
)
async def delete_schedule(schedule_id: str, tx: Tx, actor: CurrentActor) -> Response:
    await tx.run(service.delete_schedule, actor=actor, schedule_id=schedule_id)
    return Response(status_code=204)


@router.post(
    "/{schedule_id}/trigger",
    status_code=202,
    response_model=ScheduleTriggered,
    dependencies=[Depends(require_permission("runs.trigger"))],
)
async def trigger_schedule(
    schedule_id: str, tx: Tx, actor: CurrentActor, settings: SettingsDep, body: ScheduleTrigger | None = None
) -> ScheduleTriggered:
    """Run now, with the body's parameters merged over the schedule's; the run is tagged `manual`."""
    return await tx.run(
        service.trigger_schedule,
        actor=actor,
        schedule_id=schedule_id,
        data=body or ScheduleTrigger(),
        settings=settings,
    )


@router.post(
    "/{schedule_id}/backfill",
    status_code=202,
    response_model=ScheduleBackfillRead,
    responses={200: {"model": ScheduleBackfillRead, "description": "A dry run: what it would do."}},
    dependencies=_write,
)
async def backfill_schedule(  # noqa: PLR0917 - FastAPI passes the request's parts as parameters
    schedule_id: str,
    body: ScheduleBackfillCreate,
    tx: Tx,
    actor: CurrentActor,
    settings: SettingsDep,
    response: Response,
) -> ScheduleBackfillRead:
    """Run the fire times of `[start, end]`: at most `max_active` at once, the rest held and queued
    by the scheduler as earlier ones finish; runs tagged `backfill` and `backfill:<id>`."""
    if body.dry_run:
        response.status_code = 200
    return await tx.run(
        backfill.backfill_schedule, actor=actor, schedule_id=schedule_id, data=body, settings=settings
    )


@router.get(
    "/{schedule_id}/runs",
    response_model=ScheduleRunPage,
    response_class=JSONBytesResponse,
    dependencies=[Depends(require_permission("runs.read"))],
)
async def list_schedule_runs(
    schedule_id: str, tx: Tx, actor: CurrentActor, page: Paging
) -> JSONBytesResponse:
    """The runs the schedule started, newest first."""
    runs = await tx.list(service.list_schedule_runs, actor=actor, schedule_id=schedule_id, page=page)
    return page_response(runs)
