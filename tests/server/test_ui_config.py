"""`/ui/*`: the web app's page configuration, through HTTP, per caller."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.rbac import Role
from dagy.server.settings import Settings
from tests.factories import Caller, add_member, new_org
from tests.flow_factories import (
    claim_runs,
    python_node,
    register_flow,
    spec,
    trigger,
    worker_headers,
    worker_post,
)

pytestmark = pytest.mark.settings("own_pool_settings")

OK = "def main(inputs, params):\n    return params\n"


def test_marketing_is_public_and_prices_the_plans(client: TestClient) -> None:
    page = client.get("/v1/ui/marketing")
    assert page.status_code == 200, page.text
    body = page.json()
    assert set(body) == {"hero", "features", "pricing", "testimonials"}
    plans = client.get("/v1/billing/plans").json()["items"]
    assert sorted(p["plan_id"] for p in body["pricing"]["plans"]) == sorted(p["plan_id"] for p in plans)
    costs = [p["monthly_cost_usd"] for p in body["pricing"]["plans"]]
    assert costs == sorted(costs)
    assert body["hero"]["title"] and body["features"] and body["testimonials"]


def test_navigation_follows_the_callers_role(app: FastAPI, client: TestClient, owner: Caller) -> None:
    anonymous = client.get("/v1/ui/navigation")
    assert anonymous.status_code == 200
    body = anonymous.json()
    assert set(body) == {"main_nav", "sidebar_nav", "footer_nav"}
    assert body["sidebar_nav"] == [] and all(item["permission"] is None for item in body["main_nav"])
    assert "login" in [item["nav_id"] for item in body["main_nav"]]

    stale = client.get("/v1/ui/navigation", headers={"Authorization": "Bearer not-a-token"})
    assert stale.status_code == 200 and stale.json() == body

    def sidebar(caller: Caller) -> set[str]:
        answer = client.get("/v1/ui/navigation", headers=caller.headers)
        assert answer.status_code == 200
        return {item["nav_id"] for item in answer.json()["sidebar_nav"]}

    viewer = add_member(app, client, owner, Role.VIEWER)
    developer = add_member(app, client, owner, Role.DEVELOPER)
    assert {"dashboard", "runs", "flows", "usage", "audit", "secrets"} <= sidebar(owner)
    assert "usage" in sidebar(viewer) and not {"secrets", "audit", "sensors"} & sidebar(viewer)
    assert {"secrets", "sensors"} <= sidebar(developer) and not {"usage", "audit"} & sidebar(developer)


def _finish(
    client: TestClient, settings: Settings, caller: Caller, flow: str, pool: str, *, status: str
) -> str:
    run_id = trigger(client, caller, flow)["run_id"]
    assert [r["run_id"] for r in claim_runs(client, worker_headers(settings), pool)] == [run_id]
    body = {"worker_id": "w1", "attempt": 1, "status": status}
    if status == "failed":
        body["error"] = {"type": "exception", "message": "boom"}
    done = worker_post(client, settings, run_id, "complete", body)
    assert done.status_code == 200 and done.json()["status"] == status, done.text
    return run_id


def test_the_dashboard_counts_the_orgs_runs(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flaky = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    steady = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    failed = [_finish(client, settings, owner, flaky, pool, status="failed") for _ in range(2)]
    done = _finish(client, settings, owner, steady, pool, status="completed")
    queued = trigger(client, owner, steady)["run_id"]
    new_org(app, client)  # another org's runs are not counted
    answer = client.get("/v1/ui/dashboard", headers=owner.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"widgets", "stats", "recent_activity"}
    stats = body["stats"]
    assert stats["period"] == "7d" and stats["run_count"] == 4 and stats["active_runs"] == 1
    assert stats["runs_by_status"] == {
        "pending": 0, "queued": 1, "running": 0, "completed": 1, "failed": 2, "cancelled": 0,
    }  # fmt: skip
    assert stats["success_rate"] == pytest.approx(33.33)
    [failing] = stats["failing_flows"]
    assert (failing["flow_name"], failing["failed_count"], failing["run_count"]) == (flaky, 2, 2)
    assert failing["last_failed_at"]
    assert [r["run_id"] for r in body["recent_activity"]] == [queued, done, *reversed(failed)]
    assert stats["quota"]["plan"] == "enterprise" and stats["quota"]["current_usage"]["concurrent_runs"] == 1
    assert "quota" in [w["widget_id"] for w in body["widgets"]]

    developer = add_member(app, client, owner, Role.DEVELOPER)  # runs.read, no billing.read
    seen = client.get("/v1/ui/dashboard", headers=developer.headers, params={"period": "24h"}).json()
    assert seen["stats"]["quota"] is None and "quota" not in [w["widget_id"] for w in seen["widgets"]]
    assert seen["stats"]["period"] == "24h" and seen["stats"]["run_count"] == 4

    wrong = client.get("/v1/ui/dashboard", headers=owner.headers, params={"period": "1y"})
    assert wrong.status_code == 400 and wrong.json()["error"]


def test_the_dashboard_needs_a_caller(client: TestClient) -> None:
    answer = client.get("/v1/ui/dashboard")
    assert answer.status_code == 401 and answer.json()["error"]


def test_settings_show_the_sections_the_role_opens(app: FastAPI, client: TestClient, owner: Caller) -> None:
    channel = {
        "name": "alerts",
        "channel_type": "webhook",
        "config_json": {"url": "https://example.com/hook"},
    }
    created = client.post("/v1/channels", headers=owner.headers, json=channel)
    assert created.status_code == 201, created.text
    body = client.get("/v1/ui/settings", headers=owner.headers).json()
    assert set(body) == {"sections", "integrations", "preferences"}
    assert {s["section_id"] for s in body["sections"]} >= {"profile", "members", "api_keys", "billing"}
    counts = {i["integration_id"]: i["configured_count"] for i in body["integrations"]}
    assert counts == {"slack": 0, "email": 0, "webhook": 1, "pagerduty": 0}
    prefs = body["preferences"]
    assert (prefs["email"], prefs["org_id"], prefs["role"]) == (owner.email, owner.org_id, "owner")
    assert prefs["auth_mode"] in ("email", "password")

    viewer = add_member(app, client, owner, Role.VIEWER)
    seen = client.get("/v1/ui/settings", headers=viewer.headers).json()
    assert {s["section_id"] for s in seen["sections"]} == {"profile", "billing"}
    assert seen["integrations"] == []
    assert client.get("/v1/ui/settings").status_code == 401


def test_ai_studio_lists_the_allowed_node_types(app: FastAPI, client: TestClient, owner: Caller) -> None:
    body = client.get("/v1/ui/ai-studio", headers=owner.headers).json()
    assert set(body) == {"templates", "examples", "capabilities"}
    assert {c["node_type"] for c in body["capabilities"]} == {
        "s3_ingest", "s3_write", "http_fetch", "schema_validator",
        "data_normalizer", "deduplicator", "python_function", "webhook_post",
    }  # fmt: skip
    placed = {t for template in body["templates"] for t in template["node_types"]}
    assert placed <= {c["node_type"] for c in body["capabilities"]}
    assert client.get("/v1/ui/ai-studio").status_code == 401
