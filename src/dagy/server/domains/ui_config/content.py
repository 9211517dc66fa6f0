"""The web app's fixed content: the landing page's copy, the navigation's entries, the settings
sections and AI Studio's templates. What a caller sees of it is chosen in `service.py`."""

from __future__ import annotations

from dagy.server.domains.ai_studio.planner.base import ALLOWED_NODE_TYPES
from dagy.server.domains.ui_config.schemas import (
    Feature,
    Hero,
    Link,
    NavItem,
    SettingsSection,
    StudioExample,
    StudioTemplate,
    Testimonial,
    Widget,
)

HERO = Hero(
    title="Workflows you can see, run and trust",
    subtitle="Dagy runs your DAGs of Python and built-in nodes on your own machines: schedules, "
    "sensors, retries, logs and costs in one self-hosted server.",
    primary_cta=Link(label="Sign in", href="/login"),
    secondary_cta=Link(label="API reference", href="/v1/docs"),
)

FEATURES = [
    Feature(feature_id="dags", title="DAGs as code or canvas", icon="workflow",
            description="Write flows with @flow and @task, or draw them from built-in nodes."),
    Feature(feature_id="scheduling", title="Schedules and sensors", icon="clock",
            description="Cron and interval schedules with catch-up; webhooks and sensors trigger runs."),
    Feature(feature_id="observability", title="Live runs", icon="activity",
            description="Every task's status, retries and logs, streamed while the run goes."),
    Feature(feature_id="teams", title="Orgs, roles and API keys", icon="users",
            description="Owners, admins, developers and viewers; scoped keys for automation."),
    Feature(feature_id="self_hosted", title="Yours to host", icon="server",
            description="One process on SQLite, or many on PostgreSQL; workers where your data is."),
]  # fmt: skip

TESTIMONIALS = [
    Testimonial(quote="We replaced a tangle of cron jobs with one server we can read.",
                author="A data engineer", role="Early user"),
    Testimonial(quote="The run page shows exactly which task failed and why.",
                author="An on-call developer", role="Early user"),
]  # fmt: skip

HIGHLIGHTED_PLAN = "pro"

# Top bar for an anonymous caller; a member's top bar is the app's home and docs.
PUBLIC_MAIN_NAV = [
    NavItem(nav_id="home", label="Home", href="/", icon="home"),
    NavItem(nav_id="pricing", label="Pricing", href="/#pricing", icon="tag"),
    NavItem(nav_id="docs", label="API reference", href="/v1/docs", icon="book"),
    NavItem(nav_id="login", label="Sign in", href="/login", icon="log-in"),
]
MEMBER_MAIN_NAV = [
    NavItem(nav_id="dashboard", label="Dashboard", href="/dashboard", icon="home", permission="runs.read"),
    NavItem(nav_id="docs", label="API reference", href="/v1/docs", icon="book"),
]
SIDEBAR_NAV = [
    NavItem(nav_id="dashboard", label="Dashboard", href="/dashboard", icon="home", permission="runs.read"),
    NavItem(nav_id="runs", label="Runs", href="/runs", icon="play", permission="runs.read"),
    NavItem(nav_id="flows", label="Flows", href="/flows", icon="workflow", permission="flows.read"),
    NavItem(nav_id="schedules", label="Schedules", href="/schedules", icon="clock",
            permission="schedules.read"),
    NavItem(nav_id="sensors", label="Sensors", href="/sensors", icon="radar", permission="sensors.read"),
    NavItem(nav_id="ai_studio", label="AI Studio", href="/ai-studio", icon="sparkles",
            permission="flows.read"),
    NavItem(nav_id="environments", label="Environments", href="/environments", icon="layers",
            permission="environments.read"),
    NavItem(nav_id="secrets", label="Secrets", href="/secrets", icon="key", permission="secrets.read"),
    NavItem(nav_id="usage", label="Usage", href="/usage", icon="bar-chart", permission="billing.read"),
    NavItem(nav_id="audit", label="Audit log", href="/audit", icon="scroll", permission="admin.audit"),
    NavItem(nav_id="settings", label="Settings", href="/settings", icon="settings"),
]  # fmt: skip
FOOTER_NAV = [
    NavItem(nav_id="docs", label="API reference", href="/v1/docs", icon="book"),
    NavItem(nav_id="openapi", label="OpenAPI schema", href="/v1/openapi.json", icon="file-json"),
    NavItem(nav_id="health", label="Status", href="/v1/health", icon="heart-pulse"),
]

SECTIONS = [
    SettingsSection(section_id="profile", title="Profile", description="Your email, theme and time zone.",
                    href="/settings/profile", permission=None),
    SettingsSection(section_id="members", title="Members", description="Invite people and set their roles.",
                    href="/settings/members", permission="admin.members"),
    SettingsSection(section_id="api_keys", title="API keys", description="Keys for the CLI and automation.",
                    href="/settings/api-keys", permission="admin.api_keys"),
    SettingsSection(section_id="secrets", title="Secrets", description="Values your flows read at run time.",
                    href="/settings/secrets", permission="secrets.read"),
    SettingsSection(section_id="notifications", title="Notifications",
                    description="Channels and the rules that alert them.",
                    href="/settings/notifications", permission="notifications.read"),
    SettingsSection(section_id="billing", title="Billing", description="Plan, usage and invoices.",
                    href="/settings/billing", permission="billing.read"),
    SettingsSection(section_id="audit", title="Audit log", description="Who did what, and when.",
                    href="/settings/audit", permission="admin.audit"),
]  # fmt: skip

INTEGRATIONS = {  # notification channel types (domains/notifications/channels.py)
    "slack": ("Slack", "Post alerts to a Slack channel through an incoming webhook."),
    "email": ("Email", "Send alerts by SMTP to a list of addresses."),
    "webhook": ("Webhook", "POST alerts as JSON to a URL of yours, signed."),
    "pagerduty": ("PagerDuty", "Open incidents through the Events API."),
}

WIDGETS = [
    Widget(widget_id="runs_by_status", kind="status_counts", title="Runs by status"),
    Widget(widget_id="recent_activity", kind="run_list", title="Recent runs"),
    Widget(widget_id="failing_flows", kind="flow_list", title="Failing flows"),
]
QUOTA_WIDGET = Widget(widget_id="quota", kind="quota", title="Plan usage")

# The node types AI Studio may place: its planners' allowlist (the reference's executable one).
STUDIO_NODE_TYPES = ALLOWED_NODE_TYPES

TEMPLATES = [
    StudioTemplate(template_id="s3_cleanup", title="Clean a JSON dataset on S3",
                   description="Read, validate, normalize, deduplicate and write back.",
                   prompt="Build a workflow that reads JSON from S3, validates its schema, normalizes "
                   "records, deduplicates them and writes them back to S3.",
                   node_types=["s3_ingest", "schema_validator", "data_normalizer", "deduplicator",
                               "s3_write"]),
    StudioTemplate(template_id="api_to_webhook", title="Poll an API, notify a webhook",
                   description="Fetch JSON over HTTP, transform it in Python, post the result.",
                   prompt="Build a workflow that fetches JSON from an HTTP API, keeps the records "
                   "that changed with a Python step, and posts them to a webhook.",
                   node_types=["http_fetch", "python_function", "webhook_post"]),
]  # fmt: skip

EXAMPLES = [
    StudioExample(title="Explain a flow", intent="advisory",
                  prompt="What does this flow do, and where could it fail?"),
    StudioExample(title="Add a step", intent="modify",
                  prompt="Deduplicate the records by their id before writing them."),
    StudioExample(title="Start from scratch", intent="build",
                  prompt="Every hour, fetch https://example.com/data.json and store it in S3."),
]  # fmt: skip
