"""`/concurrency-limits`: every limit of the org, and one flow's, deployment's or pool's
(`/concurrency-limits/{kind}/{name}`, kind `flows`, `deployments` or `pools`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from dagy.server.api.deps import Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.responses import JSONBytesResponse, page_response
from dagy.server.api.schemas import page_params
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.concurrency import service
from dagy.server.domains.concurrency.schemas import (
    ConcurrencyLimitDeleted,
    ConcurrencyLimitList,
    ConcurrencyLimitPut,
    ConcurrencyLimitRead,
    LimitKind,
)

router = APIRouter(prefix="/concurrency-limits", tags=["Concurrency limits"])

_read = [Depends(require_permission("flows.read"))]
_write = [Depends(require_permission("flows.write"))]
Paging = Annotated[PageRequest, Depends(page_params(default=20, maximum=100))]


@router.get("", response_model=ConcurrencyLimitList, response_class=JSONBytesResponse, dependencies=_read)
async def list_concurrency_limits(
    tx: Tx,
    actor: CurrentActor,
    page: Paging,
    kind: Annotated[
        LimitKind | None, Query(description="Only flows', deployments' or pools' limits.")
    ] = None,
) -> JSONBytesResponse:
    """By kind, then name, each with the runs that hold its slots now."""
    return page_response(await tx.list(service.list_limits, actor=actor, page=page, kind=kind))


@router.get("/{kind}/{name}", response_model=ConcurrencyLimitRead, dependencies=_read)
async def get_concurrency_limit(
    kind: LimitKind, name: str, tx: Tx, actor: CurrentActor
) -> ConcurrencyLimitRead:
    return await tx.run(service.get_limit, actor=actor, kind=kind, name=name)


@router.put("/{kind}/{name}", response_model=ConcurrencyLimitRead, dependencies=_write)
async def put_concurrency_limit(
    kind: LimitKind, name: str, body: ConcurrencyLimitPut, tx: Tx, actor: CurrentActor
) -> ConcurrencyLimitRead:
    """Create or replace the limit of a flow, a deployment (both must exist) or a pool."""
    return await tx.run(service.put_limit, actor=actor, kind=kind, name=name, data=body)


@router.delete("/{kind}/{name}", response_model=ConcurrencyLimitDeleted, dependencies=_write)
async def delete_concurrency_limit(
    kind: LimitKind, name: str, tx: Tx, actor: CurrentActor
) -> ConcurrencyLimitDeleted:
    return await tx.run(service.delete_limit, actor=actor, kind=kind, name=name)
