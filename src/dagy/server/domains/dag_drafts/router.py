"""`/dag-drafts`: the visual builder's saved canvases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from dagy.server.api.deps import Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.responses import JSONBytesResponse, page_response
from dagy.server.api.schemas import page_params
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.dag_drafts import service
from dagy.server.domains.dag_drafts.schemas import (
    DagDraftCreate,
    DagDraftCreated,
    DagDraftList,
    DagDraftRead,
    DagDraftUpdate,
    DagDraftUpdated,
)

router = APIRouter(prefix="/dag-drafts", tags=["DAG Drafts (Visual Builder)"])

_read = [Depends(require_permission("flows.read"))]
_write = [Depends(require_permission("flows.write"))]


@router.post("", status_code=201, response_model=DagDraftCreated, dependencies=_write)
async def create_dag_draft(body: DagDraftCreate, tx: Tx, actor: CurrentActor) -> DagDraftCreated:
    """Save a canvas. Only its structure is checked: node types are checked when it becomes a flow."""
    return await tx.run(service.create_dag_draft, actor=actor, data=body)


@router.get("", response_model=DagDraftList, response_class=JSONBytesResponse, dependencies=_read)
async def list_dag_drafts(
    tx: Tx, actor: CurrentActor, page: Annotated[PageRequest, Depends(page_params(20, 100))]
) -> JSONBytesResponse:
    return page_response(await tx.list(service.list_dag_drafts, actor=actor, page=page))


@router.get("/{draft_id}", response_model=DagDraftRead, dependencies=_read)
async def get_dag_draft(draft_id: str, tx: Tx, actor: CurrentActor) -> DagDraftRead:
    return await tx.run(service.get_dag_draft, actor=actor, draft_id=draft_id)


@router.put("/{draft_id}", response_model=DagDraftUpdated, dependencies=_write)
async def update_dag_draft(
    draft_id: str, body: DagDraftUpdate, tx: Tx, actor: CurrentActor
) -> DagDraftUpdated:
    """Fields left out of the body are kept."""
    return await tx.run(service.update_dag_draft, actor=actor, draft_id=draft_id, data=body)


@router.delete("/{draft_id}", status_code=204, response_class=Response, dependencies=_write)
async def delete_dag_draft(draft_id: str, tx: Tx, actor: CurrentActor) -> Response:
    await tx.run(service.delete_dag_draft, actor=actor, draft_id=draft_id)
    return Response(status_code=204)
