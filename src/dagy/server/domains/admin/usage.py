"""A customer's usage for the super admin: the usage domain's monthly and daily figures, which
the org's own `/usage` routes show too."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from dagy.server.db.base import utcnow
from dagy.server.domains.admin import repository as repo
from dagy.server.domains.admin.schemas import CustomerUsage, UsagePeriod
from dagy.server.domains.usage import service as usage
from dagy.server.errors import NotFound
from dagy.server.identity import Actor

MONTHS = 3  # this month and the two before it
DAYS = 30


def customer_usage(session: Session, *, actor: Actor, org_id: str) -> CustomerUsage:
    """Per month (newest first) and per day over the last 30 days (newest first)."""
    if repo.get_org(session, org_id) is None:
        raise NotFound("Organization not found.")
    today = utcnow().date()
    months = [_first_of(today, back) for back in range(MONTHS)]
    monthly = []
    for month in months:
        summary = usage.monthly_usage(session, org_id, month)
        monthly.append(
            UsagePeriod(
                org_id=org_id,
                period=month.strftime("%Y-%m"),
                run_count=summary.run_count,
                task_count=summary.task_count,
                compute_seconds=summary.compute_seconds,
                api_call_count=summary.api_call_count,
                error_count=summary.error_count,
                estimated_cost_usd=summary.estimated_cost_usd,
            )
        )
    days = usage.daily_usage(session, org_id, today - timedelta(days=DAYS - 1), today)
    daily = [
        UsagePeriod(
            org_id=org_id,
            period=day.date,
            run_count=day.run_count,
            task_count=day.task_count,
            compute_seconds=day.compute_seconds,
            api_call_count=day.api_call_count,
            error_count=day.error_count,
            estimated_cost_usd=day.cost_usd,
        )
        for day in reversed(days)
    ]
    return CustomerUsage(items=monthly, daily=daily)


def _first_of(today: date, months_back: int) -> date:
    index = today.year * 12 + today.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)
