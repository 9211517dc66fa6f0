"""Usage of an org: summaries, daily series, costs, quota and the dashboard (docs/usage-and-billing.md).

A day's runs, node runs and compute come from its roll-up (`usage_daily`) once the roll-up has
computed it, and from the run and node-run rows themselves otherwise (today, always: live). API
calls and errors come from `usage_counter`. Costs are priced on read with `billing.plans.PRICES`.

`daily_usage` and `monthly_usage` take an org id and no caller: the super-admin's customer views
use them as the org's own `/usage` routes do.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from dagy.server.db.base import utcnow
from dagy.server.domains.billing.plans import LIMIT_KEYS, PRICES, limits_of
from dagy.server.domains.usage import quota
from dagy.server.domains.usage import repository as repo
from dagy.server.domains.usage.repository import DayRow
from dagy.server.domains.usage.schemas import (
    ExecutorCost,
    FlowCost,
    FlowUsage,
    UsageCosts,
    UsageDashboard,
    UsageDay,
    UsageQuota,
    UsageSummary,
    UsageTimeseries,
)
from dagy.server.errors import InvalidInput, NotFound
from dagy.server.identity import Actor

MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30
WARNING_PERCENT = 80.0
TOP_FLOWS = 10


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def usage_rows(session: Session, org_id: str, start: date, end: date, *, today: date) -> list[DayRow]:
    """The org's (day, flow, executor, mode) groups from `start` to `end` (inclusive): rolled-up
    days from the roll-up, today and days not rolled up yet from the raw rows."""
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    rolled = repo.rolled_up_days(session, start, end)
    stored = [d for d in days if d in rolled and d < today]
    rows = repo.rolled_up_rows(session, org_id, stored)
    for day in days:
        if day not in stored and day <= today:
            rows += [row for _, row in repo.live_day(session, org_id, day, *day_bounds(day))]
    return rows


@dataclass
class _Totals:
    runs: int = 0
    failed_runs: int = 0
    tasks: int = 0
    compute: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, row: DayRow) -> None:
        self.runs += row.runs
        self.failed_runs += row.failed_runs
        self.tasks += row.node_runs
        self.compute[row.execution_mode] += row.compute_seconds

    @property
    def compute_seconds(self) -> float:
        return round(sum(self.compute.values()), 3)

    @property
    def cost(self) -> float:
        return round(PRICES.cost(runs=self.runs, tasks=self.tasks, compute_seconds=self.compute), 4)


def _by(rows: Iterable[DayRow], key: str) -> dict[str, _Totals]:
    totals: dict[str, _Totals] = defaultdict(_Totals)
    for row in rows:
        totals[str(getattr(row, key))].add(row)
    return totals


def daily_usage(session: Session, org_id: str, start: date, end: date) -> list[UsageDay]:
    """One item per day from `start` to `end` (inclusive), days without usage as zeros."""
    rows = usage_rows(session, org_id, start, end, today=utcnow().date())
    return _series(session, org_id, start, end, rows)


def monthly_usage(session: Session, org_id: str, month: date) -> UsageSummary:
    """The org's usage in the calendar month (UTC) that `month` falls in."""
    first = quota.month_of(datetime.combine(month, time(), tzinfo=UTC))
    last = quota.next_month(first) - timedelta(days=1)
    rows = usage_rows(session, org_id, first, last, today=utcnow().date())
    return _summary(session, org_id, first, last, rows)


def _summary(session: Session, org_id: str, first: date, last: date, rows: list[DayRow]) -> UsageSummary:
    totals = _Totals()
    for row in rows:
        totals.add(row)
    calls = repo.counters(session, org_id, first, last).values()
    return UsageSummary(
        period_start=day_bounds(first)[0],
        period_end=day_bounds(last)[1] - timedelta(seconds=1),
        run_count=totals.runs,
        task_count=totals.tasks,
        compute_seconds=totals.compute_seconds,
        api_call_count=sum(c for c, _ in calls),
        error_count=sum(e for _, e in calls) + totals.failed_runs,
        estimated_cost_usd=totals.cost,
    )


def usage_summary(session: Session, *, actor: Actor) -> UsageSummary:
    """The current billing period: this calendar month (UTC)."""
    return monthly_usage(session, actor.org_id, utcnow().date())


def parse_range(start_date: str | None, end_date: str | None) -> tuple[date, date]:
    """ISO dates (a full ISO timestamp is taken for its day); default the last 30 days. 400 for a
    bad format, `start_date` after `end_date`, or a range over `MAX_RANGE_DAYS`."""
    today = utcnow().date()
    end = _parse_date("end_date", end_date) if end_date else today
    start = (
        _parse_date("start_date", start_date) if start_date else end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    )
    if start > end:
        raise InvalidInput(
            "start_date is after end_date.", details={"start_date": "must not be after end_date"}
        )
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput(
            "The date range is too long.",
            details={"end_date": f"at most {MAX_RANGE_DAYS} days after start_date"},
        )
    return start, end


def _parse_date(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        raise InvalidInput(
            f"Invalid {name}: {value[:40]!r}.", details={name: "must be an ISO 8601 date (YYYY-MM-DD)"}
        ) from None


def usage_timeseries(
    session: Session, *, actor: Actor, start_date: str | None, end_date: str | None
) -> UsageTimeseries:
    start, end = parse_range(start_date, end_date)
    return UsageTimeseries(items=daily_usage(session, actor.org_id, start, end))


def org_quota(session: Session, org_id: str) -> UsageQuota:
    """The org's limits (plan and overrides), its usage against them and how close it is."""
    found = repo.org_plan(session, org_id)
    if found is None:
        raise NotFound("Organization not found.")
    plan, overrides = found
    limits = limits_of(plan, overrides)
    now = utcnow()
    month = quota.month_of(now)
    rows = usage_rows(session, org_id, month, now.date(), today=now.date())
    counted = quota.monthly_runs(session, org_id, now)  # None: no limit was enforced this month
    used = {
        "monthly_runs": sum(row.runs for row in rows) if counted is None else counted,
        "monthly_tasks": sum(row.node_runs for row in rows),
        "concurrent_runs": repo.active_runs(session, org_id),
    }
    percentages: dict[str, float | None] = {}
    for key, value in used.items():
        limit = limits.get(key)
        percentages[key] = (
            None if limit is None else (100.0 if limit == 0 else round(100.0 * value / limit, 2))
        )
    known = [p for p in percentages.values() if p is not None]
    return UsageQuota(
        plan=plan,
        limits={key: limits[key] for key in LIMIT_KEYS},
        current_usage=used,
        percentages=percentages,
        warning=any(p >= WARNING_PERCENT for p in known),
        over_limit=any(p >= 100.0 for p in known),
        reset_at=quota.reset_at(now),
    )


def usage_quota(session: Session, *, actor: Actor) -> UsageQuota:
    return org_quota(session, actor.org_id)


def usage_dashboard(session: Session, *, actor: Actor) -> UsageDashboard:
    """This month's summary and top flows, the last 30 days day by day, and the quota."""
    today = utcnow().date()
    month = quota.month_of(datetime.combine(today, time(), tzinfo=UTC))
    start = min(month, today - timedelta(days=DEFAULT_RANGE_DAYS - 1))
    rows = usage_rows(session, actor.org_id, start, today, today=today)
    in_month = [row for row in rows if row.day >= month]
    last = quota.next_month(month) - timedelta(days=1)
    flows = sorted(_by(in_month, "flow_name").items(), key=lambda item: (-item[1].cost, item[0]))
    return UsageDashboard(
        summary=_summary(session, actor.org_id, month, last, in_month),
        timeseries=_series(
            session, actor.org_id, today - timedelta(days=DEFAULT_RANGE_DAYS - 1), today, rows
        ),
        quota=org_quota(session, actor.org_id),
        top_flows=[
            FlowUsage(flow_name=name, run_count=t.runs, task_count=t.tasks, cost_usd=t.cost)
            for name, t in flows[:TOP_FLOWS]
        ],
    )


def _series(session: Session, org_id: str, start: date, end: date, rows: list[DayRow]) -> list[UsageDay]:
    per_day = _by((row for row in rows if start <= row.day <= end), "day")
    calls = repo.counters(session, org_id, start, end)
    items = []
    for i in range((end - start).days + 1):
        day = start + timedelta(days=i)
        totals = per_day.get(str(day), _Totals())
        api_calls, errors = calls.get(day, (0, 0))
        items.append(
            UsageDay(
                date=day.isoformat(),
                run_count=totals.runs,
                task_count=totals.tasks,
                compute_seconds=totals.compute_seconds,
                api_call_count=api_calls,
                error_count=errors + totals.failed_runs,
                cost_usd=totals.cost,
            )
        )
    return items


def usage_costs(
    session: Session, *, actor: Actor, start_date: str | None, end_date: str | None
) -> UsageCosts:
    """Costs of the range (default the last 30 days) by flow and by executor, most costly first."""
    start, end = parse_range(start_date, end_date)
    rows = usage_rows(session, actor.org_id, start, end, today=utcnow().date())
    total = _Totals()
    for row in rows:
        total.add(row)
    flows = sorted(_by(rows, "flow_name").items(), key=lambda item: (-item[1].cost, item[0]))
    executors = sorted(_by(rows, "executor").items(), key=lambda item: (-item[1].cost, item[0]))
    return UsageCosts(
        total_cost_usd=total.cost,
        by_flow=[FlowCost(flow_name=name, cost_usd=t.cost, run_count=t.runs) for name, t in flows],
        by_executor=[
            ExecutorCost(executor=name, cost_usd=t.cost, task_count=t.tasks) for name, t in executors
        ],
    )
