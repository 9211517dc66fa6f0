"""`/audit-logs`: the org's trail with filters, and one resource's history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from dagy.server.api.deps import Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.responses import JSONBytesResponse, page_response
from dagy.server.api.schemas import Page, page_params
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.audit_logs import service
from dagy.server.domains.audit_logs.schemas import AuditLogQuery, AuditLogRead, AuditTrailRead

router = APIRouter(prefix="/audit-logs", tags=["Audit Logs"])

_audit = [Depends(require_permission("admin.audit"))]
LogPage = Annotated[PageRequest, Depends(page_params(default=20, maximum=100))]
TrailPage = Annotated[PageRequest, Depends(page_params(default=100, maximum=100))]


@router.get("", response_model=Page[AuditLogRead], response_class=JSONBytesResponse, dependencies=_audit)
async def list_audit_logs(
    filters: Annotated[AuditLogQuery, Query()], page: LogPage, tx: Tx, actor: CurrentActor
) -> JSONBytesResponse:
    """Newest first. A malformed date, or start_date after end_date, is a 400 naming the field."""
    return page_response(await tx.list(service.list_audit_logs, actor=actor, filters=filters, page=page))


@router.get(
    "/resource/{resource_type}/{resource_id}",
    response_model=AuditTrailRead,
    response_class=JSONBytesResponse,
    dependencies=_audit,
)
async def get_resource_trail(
    resource_type: Annotated[str, Path(max_length=32)],
    resource_id: Annotated[str, Path(max_length=128)],
    page: TrailPage,
    tx: Tx,
    actor: CurrentActor,
) -> JSONBytesResponse:
    trail = await tx.list(
        service.get_resource_trail,
        actor=actor,
        resource_type=resource_type,
        resource_id=resource_id,
        page=page,
    )
    return JSONBytesResponse(trail)
