"""What each `/ui/*` page shows to its caller: fixed content filtered by the caller's permissions,
and the dashboard's figures read from the org's runs and quota."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from sqlalchemy.orm import Session

from dagy.server.db.base import utcnow
from dagy.server.db.models import Run
from dagy.server.domains.billing import service as billing
from dagy.server.domains.nodes import service as nodes
from dagy.server.domains.ui_config import content
from dagy.server.domains.ui_config import repository as repo
from dagy.server.domains.ui_config.schemas import (
    AiStudioRead,
    DashboardRead,
    DashboardStats,
    FailingFlow,
    Integration,
    MarketingRead,
    NavigationRead,
    NavItem,
    Preferences,
    Pricing,
    PricingPlan,
    RecentRun,
    SettingsRead,
    StudioCapability,
)
from dagy.server.domains.usage import service as usage
from dagy.server.identity import Actor
from dagy.server.orchestration.states import RunState

Period = Literal["24h", "7d", "30d"]
PERIODS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
RECENT_RUNS = 10
FAILING_FLOWS = 5


def marketing_content() -> MarketingRead:
    plans = sorted(billing.list_plans().items, key=lambda plan: plan.monthly_cost_usd)
    pricing = Pricing(
        currency="USD",
        plans=[
            PricingPlan(
                plan_id=plan.plan_id,
                name=plan.name,
                monthly_cost_usd=plan.monthly_cost_usd,
                limits=plan.limits.model_dump(),
                highlighted=plan.plan_id == content.HIGHLIGHTED_PLAN,
            )
            for plan in plans
        ],
    )
    return MarketingRead(
        hero=content.HERO, features=content.FEATURES, pricing=pricing, testimonials=content.TESTIMONIALS
    )


def navigation_for(actor: Actor) -> NavigationRead:
    """An anonymous caller (or one outside any org) gets the public entries; a member those its
    role's permissions open."""
    principal = actor.principal
    if principal is None:
        return NavigationRead(main_nav=content.PUBLIC_MAIN_NAV, sidebar_nav=[], footer_nav=content.FOOTER_NAV)
    granted = principal.permissions if principal.org_id is not None else frozenset[str]()

    def allowed(items: list[NavItem]) -> list[NavItem]:
        return [item for item in items if item.permission is None or item.permission in granted]

    return NavigationRead(
        main_nav=allowed(content.MEMBER_MAIN_NAV),
        sidebar_nav=allowed(content.SIDEBAR_NAV),
        footer_nav=content.FOOTER_NAV,
    )


def dashboard_for(session: Session, *, actor: Actor, period: Period) -> DashboardRead:
    org_id = actor.org_id
    now = utcnow()
    since = now - PERIODS[period]
    counted = repo.count_runs_by_status(session, org_id, since)
    by_status = {str(state): counted.get(str(state), 0) for state in RunState}
    finished = by_status["completed"] + by_status["failed"]
    can_see_quota = actor.principal is not None and "billing.read" in actor.principal.permissions
    stats = DashboardStats(
        period=period,
        period_start=since,
        period_end=now,
        run_count=sum(counted.values()),
        runs_by_status=by_status,
        success_rate=round(100.0 * by_status["completed"] / finished, 2) if finished else None,
        active_runs=repo.count_active_runs(session, org_id),
        failing_flows=[
            FailingFlow(flow_name=name, failed_count=failed, run_count=runs, last_failed_at=last)
            for name, failed, runs, last in repo.list_failing_flows(
                session, org_id, since, limit=FAILING_FLOWS
            )
        ],
        quota=usage.org_quota(session, org_id) if can_see_quota else None,
    )
    recent = [_recent(run) for run in repo.list_recent_runs(session, org_id, limit=RECENT_RUNS)]
    widgets = content.WIDGETS + ([content.QUOTA_WIDGET] if can_see_quota else [])
    return DashboardRead(widgets=widgets, stats=stats, recent_activity=recent)


def _recent(run: Run) -> RecentRun:
    return RecentRun(
        run_id=run.id,
        flow_name=run.flow_name,
        status=run.status,
        trigger=run.trigger,
        created_at=run.created_at,
        started_at=run.started_at,
        completed_at=run.completed_at,
    )


def settings_for(session: Session, *, actor: Actor, auth_mode: str) -> SettingsRead:
    """Any signed-in caller: the sections its permissions open, the org's channels by type."""
    principal = actor.principal
    assert principal is not None  # the route authenticates
    in_org = principal.org_id is not None
    granted = principal.permissions if in_org else frozenset[str]()
    sections = [s for s in content.SECTIONS if s.permission is None or s.permission in granted]
    integrations: list[Integration] = []
    if in_org and "notifications.read" in granted:
        channels = repo.count_channels_by_type(session, actor.org_id)
        integrations = [
            Integration(
                integration_id=kind, name=name, description=text, configured_count=channels.get(kind, 0)
            )
            for kind, (name, text) in content.INTEGRATIONS.items()
        ]
    preferences = Preferences(
        email=principal.email,
        org_id=principal.org_id,
        org_name=principal.org_name,
        role=principal.role,
        auth_mode=auth_mode,
        theme="system",
        timezone="UTC",
    )
    return SettingsRead(sections=sections, integrations=integrations, preferences=preferences)


def ai_studio_content() -> AiStudioRead:
    allowed = set(content.STUDIO_NODE_TYPES)
    capabilities = [
        StudioCapability(
            node_type=node.node_type,
            label=node.label,
            description=node.description,
            category=node.category,
            executable=node.executable,
        )
        for node in nodes.list_builtin_nodes().items
        if node.node_type in allowed
    ]
    return AiStudioRead(templates=content.TEMPLATES, examples=content.EXAMPLES, capabilities=capabilities)
