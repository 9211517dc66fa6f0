"""Bodies of `/ui/*`: exactly the reference's top-level fields, each typed down to its leaves."""

from __future__ import annotations

from pydantic import Field

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import ResponseModel
from dagy.server.domains.usage.schemas import UsageQuota

# --- /ui/marketing -------------------------------------------------------------------------------


class Link(ResponseModel):
    label: str
    href: str


class Hero(ResponseModel):
    title: str
    subtitle: str
    primary_cta: Link
    secondary_cta: Link


class Feature(ResponseModel):
    feature_id: str
    title: str
    description: str
    icon: str


class PricingPlan(ResponseModel):
    plan_id: str
    name: str
    monthly_cost_usd: float
    limits: dict[str, int | None] = Field(description="The plan's limits; null: none.")
    highlighted: bool


class Pricing(ResponseModel):
    currency: str
    plans: list[PricingPlan] = Field(description="The plans of `GET /billing/plans`, cheapest first.")


class Testimonial(ResponseModel):
    quote: str
    author: str
    role: str


class MarketingRead(ResponseModel):
    hero: Hero
    features: list[Feature]
    pricing: Pricing
    testimonials: list[Testimonial]


# --- /ui/navigation ------------------------------------------------------------------------------


class NavItem(ResponseModel):
    nav_id: str
    label: str
    href: str
    icon: str | None = None
    permission: str | None = Field(None, description="What the entry's page needs; null: nothing.")


class NavigationRead(ResponseModel):
    main_nav: list[NavItem] = Field(description="Top bar: the public pages, or the app's for a member.")
    sidebar_nav: list[NavItem] = Field(description="The caller's pages; empty for an anonymous caller.")
    footer_nav: list[NavItem]


# --- /ui/dashboard -------------------------------------------------------------------------------


class Widget(ResponseModel):
    widget_id: str = Field(description="Names the `stats` or `recent_activity` field it renders.")
    kind: str = Field(description="status_counts, run_list, flow_list or quota.")
    title: str


class FailingFlow(ResponseModel):
    flow_name: str
    failed_count: int
    run_count: int
    last_failed_at: Timestamp


class DashboardStats(ResponseModel):
    period: str = Field(description="24h, 7d or 30d.")
    period_start: Timestamp
    period_end: Timestamp
    run_count: int = Field(description="Runs created in the period.")
    runs_by_status: dict[str, int] = Field(description="Every run status, zeros included.")
    success_rate: float | None = Field(description="Completed / finished runs, percent; null: none finished.")
    active_runs: int = Field(description="Queued and running now, whenever created.")
    failing_flows: list[FailingFlow] = Field(description="Flows with failed runs in the period, most first.")
    quota: UsageQuota | None = Field(
        description="Usage against the plan's limits; null without billing.read."
    )


class RecentRun(ResponseModel):
    run_id: str
    flow_name: str
    status: str
    trigger: str
    created_at: Timestamp
    started_at: Timestamp | None
    completed_at: Timestamp | None


class DashboardRead(ResponseModel):
    widgets: list[Widget]
    stats: DashboardStats
    recent_activity: list[RecentRun] = Field(description="The org's 10 newest runs.")


# --- /ui/settings --------------------------------------------------------------------------------


class SettingsSection(ResponseModel):
    section_id: str
    title: str
    description: str
    href: str
    permission: str | None


class Integration(ResponseModel):
    integration_id: str = Field(description="A notification channel type.")
    name: str
    description: str
    configured_count: int = Field(description="The org's channels of this type.")


class Preferences(ResponseModel):
    email: str | None
    org_id: str | None
    org_name: str | None
    role: str | None
    auth_mode: str = Field(description="email, password or oidc (docs/authentication.md).")
    theme: str = Field(description="system; the web app keeps the caller's choice locally.")
    timezone: str


class SettingsRead(ResponseModel):
    sections: list[SettingsSection]
    integrations: list[Integration] = Field(description="Empty for a caller without an org.")
    preferences: Preferences


# --- /ui/ai-studio -------------------------------------------------------------------------------


class StudioTemplate(ResponseModel):
    template_id: str
    title: str
    description: str
    prompt: str
    node_types: list[str]


class StudioExample(ResponseModel):
    title: str
    prompt: str
    intent: str


class StudioCapability(ResponseModel):
    node_type: str
    label: str
    description: str
    category: str
    executable: bool


class AiStudioRead(ResponseModel):
    templates: list[StudioTemplate]
    examples: list[StudioExample]
    capabilities: list[StudioCapability] = Field(description="The node types AI Studio may place.")
