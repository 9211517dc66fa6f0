"""Bodies of `/usage`."""

from __future__ import annotations

from pydantic import Field

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import ResponseModel


class UsageSummary(ResponseModel):
    period_start: Timestamp
    period_end: Timestamp
    run_count: int
    task_count: int = Field(description="Node runs (tasks) of the period's runs.")
    compute_seconds: float = Field(description="Wall time of the period's node runs.")
    api_call_count: int
    error_count: int = Field(description="Failed runs, error answers and refused run creations.")
    estimated_cost_usd: float


class UsageDay(ResponseModel):
    date: str = Field(description="The day (UTC), YYYY-MM-DD.")
    run_count: int
    task_count: int
    compute_seconds: float
    api_call_count: int
    error_count: int
    cost_usd: float


class UsageTimeseries(ResponseModel):
    items: list[UsageDay]


class UsageQuota(ResponseModel):
    plan: str
    limits: dict[str, int | None] = Field(
        description="The plan's limits with the org's overrides; null: none."
    )
    current_usage: dict[str, int]
    percentages: dict[str, float | None]
    warning: bool = Field(description="A limit is at 80 % or more.")
    over_limit: bool = Field(description="A limit is reached.")
    reset_at: Timestamp


class FlowUsage(ResponseModel):
    flow_name: str
    run_count: int
    task_count: int
    cost_usd: float


class UsageDashboard(ResponseModel):
    summary: UsageSummary
    timeseries: list[UsageDay]
    quota: UsageQuota
    top_flows: list[FlowUsage]


class FlowCost(ResponseModel):
    flow_name: str
    cost_usd: float
    run_count: int


class ExecutorCost(ResponseModel):
    executor: str
    cost_usd: float
    task_count: int


class UsageCosts(ResponseModel):
    total_cost_usd: float
    by_flow: list[FlowCost]
    by_executor: list[ExecutorCost]
