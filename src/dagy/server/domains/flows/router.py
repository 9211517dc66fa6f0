"""`/flows`: register versions, list flows, read versions, delete a flow and everything it owns."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dagy.server.api.deps import SettingsDep, Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.responses import JSONBytesResponse, page_response
from dagy.server.api.schemas import page_params
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.flows import registration, service
from dagy.server.domains.flows.schemas import (
    FlowCreate,
    FlowCreated,
    FlowDeleted,
    FlowList,
    FlowVersionList,
    FlowVersionRead,
)

router = APIRouter(prefix="/flows", tags=["Flows"])

_read = [Depends(require_permission("flows.read"))]
_write = [Depends(require_permission("flows.write"))]


@router.post("", status_code=201, response_model=FlowCreated, dependencies=_write)
async def register_flow_version(
    body: FlowCreate, tx: Tx, actor: CurrentActor, settings: SettingsDep
) -> FlowCreated:
    """Register a new flow version; the spec is validated and every problem listed in `details`.
    With `deployment_name`, the deployment is created or moved to the new version."""
    return await tx.run(registration.register_flow_version, actor=actor, data=body, settings=settings)


@router.get("", response_model=FlowList, response_class=JSONBytesResponse, dependencies=_read)
async def list_flows(
    tx: Tx, actor: CurrentActor, page: Annotated[PageRequest, Depends(page_params(20, 100))]
) -> JSONBytesResponse:
    """Newest flow first; each item carries its latest version's label, status, namespace and tags."""
    return page_response(await tx.list(service.list_flows, actor=actor, page=page))


@router.get("/{flow_name}/latest", response_model=FlowVersionRead, dependencies=_read)
async def get_latest_flow_version(flow_name: str, tx: Tx, actor: CurrentActor) -> FlowVersionRead:
    return await tx.run(service.get_latest_flow_version, actor=actor, flow_name=flow_name)


@router.get(
    "/{flow_name}/versions",
    response_model=FlowVersionList,
    response_class=JSONBytesResponse,
    dependencies=_read,
)
async def list_flow_versions(
    flow_name: str,
    tx: Tx,
    actor: CurrentActor,
    page: Annotated[PageRequest, Depends(page_params(100, 500))],
) -> JSONBytesResponse:
    """Highest deployment version first; `next_token` is set when more versions remain."""
    return JSONBytesResponse(
        await tx.list(service.list_flow_versions, actor=actor, flow_name=flow_name, page=page)
    )


@router.get("/{flow_name}/{flow_version}", response_model=FlowVersionRead, dependencies=_read)
async def get_flow_version(flow_name: str, flow_version: str, tx: Tx, actor: CurrentActor) -> FlowVersionRead:
    return await tx.run(service.get_flow_version, actor=actor, flow_name=flow_name, flow_version=flow_version)


@router.delete("/{flow_name}", response_model=FlowDeleted, dependencies=_write)
async def delete_flow(flow_name: str, tx: Tx, actor: CurrentActor, settings: SettingsDep) -> FlowDeleted:
    """Delete the flow, its versions, deployments, runs and their logs, and its stored artifacts."""
    return await tx.run(service.delete_flow, actor=actor, flow_name=flow_name, settings=settings)
