"""`/admin/*`: the super admin's cross-org endpoints. Each answers 403 `Super admin access required`
to any caller but a super admin's login session (API keys never carry super admin)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Query, Request

from dagy.server.api.deps import Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.schemas import page_params
from dagy.server.api.security import SuperAdmin, require_super_admin
from dagy.server.api.traces import KEY_PATTERN, TraceStore
from dagy.server.domains.admin import exceptions, service, usage
from dagy.server.domains.admin.schemas import (
    AdminAuditList,
    AdminMemberList,
    CreditsAdjust,
    CreditsRead,
    CustomerList,
    CustomerQuery,
    CustomerRead,
    CustomerUpdate,
    CustomerUsage,
    DownloadRead,
    ExceptionDelete,
    ExceptionList,
    ExceptionsDeleted,
    ImpersonationRead,
    OrgStatusRead,
    SessionList,
    SessionsRevoked,
)

router = APIRouter(prefix="/admin", tags=["Super Admin"], dependencies=[Depends(require_super_admin)])

CustomerPage = Annotated[PageRequest, Depends(page_params(default=20, maximum=200))]
AuditPage = Annotated[PageRequest, Depends(page_params(default=50, maximum=500))]
OrgId = Annotated[str, Path(max_length=40)]
TraceKey = Annotated[str, Query(pattern=KEY_PATTERN, description="The exception trace key.")]


def _traces(request: Request) -> TraceStore:
    store: TraceStore = request.app.state.traces
    return store


Traces = Annotated[TraceStore, Depends(_traces)]


@router.get("/customers", response_model=CustomerList)
async def list_customers(
    query: Annotated[CustomerQuery, Query()], page: CustomerPage, tx: Tx, actor: SuperAdmin
) -> CustomerList:
    """Every org, newest first; `total` counts every match across pages."""
    return await tx.run(service.list_customers, actor=actor, query=query, page=page)


@router.get("/customers/{org_id}", response_model=CustomerRead)
async def get_customer(org_id: OrgId, tx: Tx, actor: SuperAdmin) -> CustomerRead:
    return await tx.run(service.get_customer, actor=actor, org_id=org_id)


@router.patch("/customers/{org_id}", response_model=CustomerRead)
async def update_customer(org_id: OrgId, body: CustomerUpdate, tx: Tx, actor: SuperAdmin) -> CustomerRead:
    """At least one field (else 400); audited with the fields' old and new values."""
    return await tx.run(service.update_customer, actor=actor, org_id=org_id, data=body)


@router.get("/customers/{org_id}/members", response_model=AdminMemberList)
async def list_customer_members(org_id: OrgId, tx: Tx, actor: SuperAdmin) -> AdminMemberList:
    return await tx.run(service.list_customer_members, actor=actor, org_id=org_id)


@router.get("/customers/{org_id}/usage", response_model=CustomerUsage)
async def customer_usage(org_id: OrgId, tx: Tx, actor: SuperAdmin) -> CustomerUsage:
    """Per month (`items`) and per day over the last 30 days (`daily`)."""
    return await tx.run(usage.customer_usage, actor=actor, org_id=org_id)


@router.get("/customers/{org_id}/audit", response_model=AdminAuditList)
async def list_customer_audit(org_id: OrgId, page: AuditPage, tx: Tx, actor: SuperAdmin) -> AdminAuditList:
    return await tx.run(service.list_customer_audit, actor=actor, org_id=org_id, page=page)


@router.get("/customers/{org_id}/sessions", response_model=SessionList)
async def list_customer_sessions(org_id: OrgId, tx: Tx, actor: SuperAdmin) -> SessionList:
    return await tx.run(service.list_customer_sessions, actor=actor, org_id=org_id)


@router.delete("/customers/{org_id}/sessions/{user_email}", response_model=SessionsRevoked)
async def revoke_customer_sessions(
    org_id: OrgId, user_email: Annotated[str, Path(max_length=320)], tx: Tx, actor: SuperAdmin
) -> SessionsRevoked:
    """The member's tokens stop working at once."""
    return await tx.run(service.revoke_customer_sessions, actor=actor, org_id=org_id, user_email=user_email)


@router.post("/customers/{org_id}/suspend", response_model=OrgStatusRead)
async def suspend_customer(org_id: OrgId, tx: Tx, actor: SuperAdmin) -> OrgStatusRead:
    """Members and API keys get 403 `org_suspended`; runs wait unclaimed, schedules and sensors pause."""
    return await tx.run(service.suspend_customer, actor=actor, org_id=org_id)


@router.post("/customers/{org_id}/activate", response_model=OrgStatusRead)
async def activate_customer(org_id: OrgId, tx: Tx, actor: SuperAdmin) -> OrgStatusRead:
    return await tx.run(service.activate_customer, actor=actor, org_id=org_id)


@router.post("/customers/{org_id}/credits", response_model=CreditsRead)
async def adjust_customer_credits(
    org_id: OrgId, body: CreditsAdjust, tx: Tx, actor: SuperAdmin
) -> CreditsRead:
    """Positive adds, negative deducts; a balance below zero is refused (400)."""
    return await tx.run(service.adjust_customer_credits, actor=actor, org_id=org_id, data=body)


@router.get("/exceptions", response_model=ExceptionList)
async def list_exceptions(
    traces: Traces, actor: SuperAdmin, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> ExceptionList:
    """The traces of unhandled server errors, newest first."""
    return await anyio.to_thread.run_sync(lambda: exceptions.list_exceptions(traces, limit=limit))


@router.get("/exceptions/content", response_model=dict[str, Any])
async def exception_content(key: TraceKey, traces: Traces, actor: SuperAdmin) -> dict[str, Any]:
    """One trace: request id, method, route, org, user, exception type, message and stack."""
    return await anyio.to_thread.run_sync(lambda: exceptions.exception_content(traces, key=key))


@router.get("/exceptions/download", response_model=DownloadRead)
async def exception_download(
    key: TraceKey, request: Request, traces: Traces, actor: SuperAdmin
) -> DownloadRead:
    base_url = str(request.base_url)
    return await anyio.to_thread.run_sync(
        lambda: exceptions.exception_download(traces, key=key, base_url=base_url)
    )


@router.delete("/exceptions", response_model=ExceptionsDeleted)
async def delete_exceptions(
    body: ExceptionDelete, traces: Traces, tx: Tx, actor: SuperAdmin
) -> ExceptionsDeleted:
    return await tx.run(exceptions.delete_exceptions, actor=actor, store=traces, keys=body.keys)


@router.post("/impersonate/{org_id}", response_model=ImpersonationRead)
async def impersonate(org_id: OrgId, tx: Tx, actor: SuperAdmin) -> ImpersonationRead:
    """Then send `X-Impersonate-Org: <org_id>` to act in the org as its owner; every change is
    audited under your email with `impersonating: true`."""
    return await tx.run(service.start_impersonation, actor=actor, org_id=org_id)
