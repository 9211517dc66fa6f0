"""`/billing`: plans (public), the org's subscription, Stripe checkout and portal, Stripe's webhook."""

from __future__ import annotations

import functools
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Request

from dagy.server.api.deps import DatabaseDep, SettingsDep, Tx
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.billing import service
from dagy.server.domains.billing.schemas import (
    CheckoutCreate,
    CheckoutCreated,
    PlanList,
    PortalCreate,
    PortalCreated,
    SubscriptionRead,
    WebhookReceived,
)
from dagy.server.errors import PayloadTooLarge

router = APIRouter(prefix="/billing", tags=["Usage & Billing"])

_write = [Depends(require_permission("billing.write"))]
MAX_WEBHOOK_BYTES = 1024 * 1024


@router.get("/plans", response_model=PlanList)
async def list_plans() -> PlanList:
    """Public: the plans, their prices and limits."""
    return service.list_plans()


@router.get(
    "/subscription",
    response_model=SubscriptionRead,
    dependencies=[Depends(require_permission("billing.read"))],
)
async def get_subscription(tx: Tx, actor: CurrentActor) -> SubscriptionRead:
    return await tx.run(service.get_subscription, actor=actor)


@router.post("/checkout", status_code=201, response_model=CheckoutCreated, dependencies=_write)
async def create_checkout(
    body: CheckoutCreate, db: DatabaseDep, actor: CurrentActor, settings: SettingsDep
) -> CheckoutCreated:
    """A Stripe checkout session for a paid plan (503 when billing is not configured). The service
    reads the org in a transaction of its own, then calls Stripe outside it."""
    call = functools.partial(service.create_checkout, db, actor=actor, data=body, settings=settings)
    return await anyio.to_thread.run_sync(call)


@router.post("/portal", status_code=201, response_model=PortalCreated, dependencies=_write)
async def create_portal(
    body: PortalCreate, db: DatabaseDep, actor: CurrentActor, settings: SettingsDep
) -> PortalCreated:
    """A Stripe customer portal session (503 when billing is not configured)."""
    call = functools.partial(service.create_portal, db, actor=actor, data=body, settings=settings)
    return await anyio.to_thread.run_sync(call)


@router.post("/webhook", response_model=WebhookReceived)
async def receive_webhook(
    request: Request,
    tx: Tx,
    settings: SettingsDep,
    stripe_signature: Annotated[str | None, Header(max_length=2048)] = None,
) -> WebhookReceived:
    """Public: Stripe's signature is the credential (400 malformed or stale, 403 not matching)."""
    payload = await request.body()
    if len(payload) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge(
            "The event is too large.", details={"body": f"at most {MAX_WEBHOOK_BYTES} bytes"}
        )
    return await tx.run(
        service.handle_webhook, payload=payload, signature=stripe_signature, settings=settings
    )
