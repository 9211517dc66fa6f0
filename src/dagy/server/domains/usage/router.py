"""`/usage`: summary, daily series, quota, dashboard and costs of the caller's org."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from dagy.server.api.deps import Tx
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.usage import service
from dagy.server.domains.usage.schemas import (
    UsageCosts,
    UsageDashboard,
    UsageQuota,
    UsageSummary,
    UsageTimeseries,
)

router = APIRouter(prefix="/usage", tags=["Usage & Billing"])

_read = [Depends(require_permission("billing.read"))]
DateParam = Annotated[
    str | None, Query(max_length=40, description="An ISO 8601 date, YYYY-MM-DD (UTC days).")
]


@router.get("/summary", response_model=UsageSummary, dependencies=_read)
async def usage_summary(tx: Tx, actor: CurrentActor) -> UsageSummary:
    """The current billing period (this calendar month, UTC)."""
    return await tx.run(service.usage_summary, actor=actor)


@router.get("/timeseries", response_model=UsageTimeseries, dependencies=_read)
async def usage_timeseries(
    tx: Tx, actor: CurrentActor, start_date: DateParam = None, end_date: DateParam = None
) -> UsageTimeseries:
    """One item per day from `start_date` to `end_date` (default: the last 30 days), zeros included."""
    return await tx.run(service.usage_timeseries, actor=actor, start_date=start_date, end_date=end_date)


@router.get("/quota", response_model=UsageQuota, dependencies=_read)
async def usage_quota(tx: Tx, actor: CurrentActor) -> UsageQuota:
    """The plan's limits with the org's overrides, usage against them, `warning` at 80 %."""
    return await tx.run(service.usage_quota, actor=actor)


@router.get("/dashboard", response_model=UsageDashboard, dependencies=_read)
async def usage_dashboard(tx: Tx, actor: CurrentActor) -> UsageDashboard:
    """Summary, the last 30 days, quota and this month's most costly flows."""
    return await tx.run(service.usage_dashboard, actor=actor)


@router.get("/costs", response_model=UsageCosts, dependencies=_read)
async def usage_costs(
    tx: Tx, actor: CurrentActor, start_date: DateParam = None, end_date: DateParam = None
) -> UsageCosts:
    """Costs by flow and by executor (default: the last 30 days), priced with the price table."""
    return await tx.run(service.usage_costs, actor=actor, start_date=start_date, end_date=end_date)
