"""The plans and the price table: the one place prices and limits are written down.

`GET /billing/plans` lists `PLANS`; quotas read an org's limits from its plan with its
`quota_overrides` on top; costs price usage with `PRICES` (docs/usage-and-billing.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagy.server.errors import InvalidInput
from dagy.server.settings import Settings

# The limits a plan sets. None is unlimited. Only `monthly_runs` and `concurrent_runs` refuse runs;
# the others are shown against usage (`GET /usage/quota`).
LIMIT_KEYS = ("monthly_runs", "monthly_tasks", "concurrent_runs", "max_run_duration_seconds")
ENFORCED_LIMITS = ("monthly_runs", "concurrent_runs")
MAX_LIMIT = 10**12


@dataclass(frozen=True)
class Plan:
    plan_id: str
    name: str
    monthly_cost_usd: float
    limits: Mapping[str, int | None]
    paid: bool


PLANS: dict[str, Plan] = {
    plan.plan_id: plan
    for plan in (
        Plan(
            "free",
            "Free",
            0.0,
            {
                "monthly_runs": 100,
                "monthly_tasks": 1_000,
                "concurrent_runs": 2,
                "max_run_duration_seconds": 3_600,
            },
            paid=False,
        ),
        Plan(
            "professional",
            "Professional",
            299.0,
            {
                "monthly_runs": 10_000,
                "monthly_tasks": 100_000,
                "concurrent_runs": 50,
                "max_run_duration_seconds": 86_400,
            },
            paid=True,
        ),
        Plan(
            "enterprise",
            "Enterprise",
            1_999.0,
            {
                "monthly_runs": None,
                "monthly_tasks": None,
                "concurrent_runs": None,
                "max_run_duration_seconds": 86_400,
            },
            paid=True,
        ),
    )
}
PLAN_IDS = tuple(PLANS)
DEFAULT_PLAN = "free"  # of an org with no known plan, and of a new org where billing is configured
SELF_HOSTED_PLAN = "enterprise"  # of a new org where billing is not configured: no run quota


def default_plan(settings: Settings) -> str:
    """The plan of an org created without one (`DAGY_DEFAULT_PLAN`, docs/usage-and-billing.md)."""
    if settings.default_plan is not None:
        return settings.default_plan
    return DEFAULT_PLAN if settings.stripe_api_key is not None else SELF_HOSTED_PLAN


@dataclass(frozen=True)
class Prices:
    """What usage costs, in USD: per run, per task (node run), per compute-second by mode."""

    per_run: float
    per_task: float
    per_compute_second: Mapping[str, float]

    def compute_second(self, mode: str) -> float:
        return self.per_compute_second.get(mode, self.per_compute_second["nano"])

    def cost(self, *, runs: int, tasks: int, compute_seconds: Mapping[str, float]) -> float:
        """The cost of `runs` runs, `tasks` node runs and compute seconds per execution mode."""
        compute = sum(seconds * self.compute_second(mode) for mode, seconds in compute_seconds.items())
        return runs * self.per_run + tasks * self.per_task + compute


PRICES = Prices(
    per_run=0.001,
    per_task=0.0001,
    per_compute_second={
        "nano": 0.00001,
        "micro": 0.00002,
        "small": 0.00004,
        "medium": 0.00008,
        "large": 0.00016,
        "xlarge": 0.00032,
    },
)


def plan_named(plan_id: str) -> Plan:
    """The plan, or 400 naming the plans there are."""
    plan = PLANS.get(plan_id)
    if plan is None:
        raise InvalidInput(f"Unknown plan {plan_id}.", details={"plan": f"one of {', '.join(PLAN_IDS)}"})
    return plan


def check_quota_overrides(raw: Mapping[str, Any]) -> dict[str, int | None]:
    """Overrides as stored on an org: known limit names, each a whole number >= 0 or null
    (unlimited); anything else is 400 naming the field."""
    problems: dict[str, str] = {}
    checked: dict[str, int | None] = {}
    for key, value in raw.items():
        if key not in LIMIT_KEYS:
            problems[f"quota_overrides.{key}"] = f"not a limit; one of {', '.join(LIMIT_KEYS)}"
        elif value is None:
            checked[key] = None
        elif isinstance(value, bool) or not isinstance(value, int):
            problems[f"quota_overrides.{key}"] = "must be a whole number or null"
        elif not 0 <= value <= MAX_LIMIT:
            problems[f"quota_overrides.{key}"] = f"must be between 0 and {MAX_LIMIT}"
        else:
            checked[key] = value
    if problems:
        raise InvalidInput("Invalid quota overrides.", details=problems)
    return checked


def limits_of(plan_id: str, overrides: Mapping[str, Any] | None) -> dict[str, int | None]:
    """The org's limits: its plan's (an unknown stored plan counts as free), overrides on top."""
    plan = PLANS.get(plan_id, PLANS[DEFAULT_PLAN])
    limits = dict(plan.limits)
    for key, value in (overrides or {}).items():
        if key in limits and (value is None or (isinstance(value, int) and value >= 0)):
            limits[key] = value
    return limits
