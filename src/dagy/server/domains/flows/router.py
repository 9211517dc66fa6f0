"""`/flows`: registering flow versions, reading the latest."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from dagy.server.api.deps import Tx
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.flows import service
from dagy.server.domains.flows.schemas import FlowCreate, FlowCreated, FlowVersionRead

router = APIRouter(prefix="/flows", tags=["Flows"])


@router.post(
    "", status_code=201, response_model=FlowCreated, dependencies=[Depends(require_permission("flows.write"))]
)
async def register_flow_version(body: FlowCreate, tx: Tx, actor: CurrentActor) -> FlowCreated:
    """Register a new flow version; the spec is validated and every problem listed in `details`."""
    return await tx.run(service.register_flow_version, actor=actor, data=body)


@router.get(
    "/{flow_name}/latest",
    response_model=FlowVersionRead,
    dependencies=[Depends(require_permission("flows.read"))],
)
async def get_latest_flow_version(flow_name: str, tx: Tx, actor: CurrentActor) -> FlowVersionRead:
    return await tx.run(service.get_latest_flow_version, actor=actor, flow_name=flow_name)
