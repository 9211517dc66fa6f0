"""`/admin/*` through HTTP: who may call it, customers, members, sessions and their revocation,
suspension (members locked out, runs unclaimed, schedules and sensors paused), credits and the
credits ledger, and impersonation with its audit trail."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from dagy.server.db.base import utcnow
from dagy.server.db.models import CreditEntry, Run
from dagy.server.domains.credits.service import InsufficientCredits, charge_credits
from dagy.server.domains.schedules.firing import fire_due_batch
from dagy.server.settings import Settings
from tests.conftest import SUPERADMIN
from tests.factories import add_member, login, new_org, unique
from tests.flow_factories import (
    api_key,
    claim_runs,
    python_node,
    register_flow,
    spec,
    trigger,
    worker_headers,
)

pytestmark = pytest.mark.settings("own_pool_settings")

OK = "def main(inputs, params):\n    return params\n"
DENIED = "Super admin access required"


def admin_headers(client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(client, SUPERADMIN)}"}


def super_admin_api_key(app: FastAPI, client: TestClient) -> dict[str, str]:
    """Headers with an API key of an org owned by a super admin (one of the test's own, so the
    harness's super admin stays without orgs)."""
    owner = new_org(app, client)
    app.state.settings.superadmin_emails.append(owner.email)
    assert client.get("/v1/users/me", headers=owner.headers).json()["super_admin"] is True
    return api_key(client, owner, "flows.read")


def admin_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, str]]:
    """(method, full path) of every `/v1/admin` route, included routers' too."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute) and (prefix + route.path).startswith("/v1/admin"):
            found += [(method, prefix + route.path) for method in sorted(route.methods)]
        elif hasattr(route, "original_router"):
            found += admin_routes(route.original_router.routes, prefix + route.include_context.prefix)
    return found


def audit_rows(client: TestClient, org_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/admin/customers/{org_id}/audit?limit=500", headers=admin_headers(client))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- who may call ----------------------------------------------------------------------------------


def test_every_admin_route_refuses_anyone_but_a_super_admin_session(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    admin_key = super_admin_api_key(app, client)
    owner_key = api_key(client, owner, "flows.read")
    routes = admin_routes(app.routes)
    assert len(routes) == 16
    for method, path in routes:
        url = re.sub(r"\{[^}]+\}", "probe", path.replace("{org_id}", owner.org_id))
        for headers in (owner.headers, admin_key, owner_key):
            response = client.request(method, url, headers=headers, json={})
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["message"] == DENIED
        assert client.request(method, url, json={}).status_code == 401


# --- customers ---------------------------------------------------------------------------------


def test_customers_list_filters_and_total(app: FastAPI, client: TestClient) -> None:
    admin = admin_headers(client)
    marker = unique("acme")
    first = new_org(app, client, plan="enterprise")
    second = new_org(app, client, plan="free")
    for caller in (first, second):
        patch = client.patch(f"/v1/admin/customers/{caller.org_id}", headers=admin, json={"notes": marker})
        assert patch.status_code == 200
    by_email = client.get("/v1/admin/customers", params={"search": first.email.upper()}, headers=admin).json()
    assert [i["org_id"] for i in by_email["items"]] == [first.org_id] and by_email["total"] == 1
    item = by_email["items"][0]
    assert item["owner_email"] == first.email and item["member_count"] == 1 and item["status"] == "active"
    assert item["plan"] == "enterprise"
    name = client.get(f"/v1/admin/customers/{second.org_id}", headers=admin).json()["org_name"]
    by_name = client.get("/v1/admin/customers", params={"search": name, "plan": "free"}, headers=admin).json()
    assert [i["org_id"] for i in by_name["items"]] == [second.org_id]
    none = client.get(
        "/v1/admin/customers", params={"search": name, "plan": "enterprise"}, headers=admin
    ).json()
    assert none == {"items": [], "total": 0, "next_token": None}
    assert client.post(f"/v1/admin/customers/{second.org_id}/suspend", headers=admin).status_code == 200
    suspended = client.get(
        "/v1/admin/customers", params={"status": "suspended", "limit": 1}, headers=admin
    ).json()
    assert suspended["total"] >= 1 and len(suspended["items"]) == 1
    assert all(i["status"] == "suspended" for i in suspended["items"])
    everyone = client.get("/v1/admin/customers", params={"limit": 1}, headers=admin).json()
    following = client.get(
        "/v1/admin/customers", params={"limit": 1, "next_token": everyone["next_token"]}, headers=admin
    ).json()
    assert following["items"][0]["org_id"] != everyone["items"][0]["org_id"]
    assert following["total"] == everyone["total"] >= 2
    bad = client.get("/v1/admin/customers", params={"status": "gone"}, headers=admin)
    assert bad.status_code == 400 and "status" in bad.json()["details"]


def test_customer_detail_update_and_members(app: FastAPI, client: TestClient) -> None:
    admin = admin_headers(client)
    owner = new_org(app, client)
    dev = add_member(app, client, owner, "developer")
    detail = client.get(f"/v1/admin/customers/{owner.org_id}", headers=admin).json()
    assert detail["credits_balance"] == 0.0 and detail["feature_flags"] == {} and detail["notes"] is None
    assert client.get("/v1/admin/customers/org_missing", headers=admin).status_code == 404
    empty = client.patch(f"/v1/admin/customers/{owner.org_id}", headers=admin, json={})
    assert empty.status_code == 400 and empty.json()["error"] == "invalid_input"
    body = {
        "plan": "starter",
        "quota_overrides": {"monthly_runs": 50000},
        "feature_flags": {"beta_ai_studio": True},
        "notes": "Upgraded",
        "credits_balance": 1000.0,
    }
    updated = client.patch(f"/v1/admin/customers/{owner.org_id}", headers=admin, json=body)
    assert updated.status_code == 200, updated.text
    assert {k: updated.json()[k] for k in body} == body
    assert (
        client.get(f"/v1/admin/customers/{owner.org_id}", headers=admin).json()["credits_balance"] == 1000.0
    )
    unknown = client.patch(f"/v1/admin/customers/{owner.org_id}", headers=admin, json={"colour": "red"})
    assert unknown.status_code == 400
    [row] = [
        r
        for r in audit_rows(client, owner.org_id)
        if r["resource_type"] == "org" and r["actor_email"] == SUPERADMIN
    ]
    assert row["metadata"]["plan"] == [detail["plan"], "starter"]
    assert row["metadata"]["credits_balance"] == [0.0, 1000.0]
    members = client.get(f"/v1/admin/customers/{owner.org_id}/members", headers=admin).json()["items"]
    assert {(m["user_email"], m["role"]) for m in members} == {
        (owner.email, "owner"),
        (dev.email, "developer"),
    }


def test_customer_usage_has_months_and_days(app: FastAPI, client: TestClient, pool: str) -> None:
    admin = admin_headers(client)
    owner = new_org(app, client)
    trigger(client, owner, register_flow(client, owner, spec(python_node("only", OK))))
    usage = client.get(f"/v1/admin/customers/{owner.org_id}/usage", headers=admin)
    assert usage.status_code == 200, usage.text
    months, days = usage.json()["items"], usage.json()["daily"]
    assert months[0]["period"] == utcnow().strftime("%Y-%m") and months[0]["run_count"] == 1
    assert len(days) == 30 and days[0]["period"] == utcnow().date().isoformat() and days[0]["run_count"] == 1
    assert set(months[0]) == {
        "org_id", "period", "run_count", "task_count", "compute_seconds",
        "api_call_count", "error_count", "estimated_cost_usd",
    }  # fmt: skip


# --- sessions ------------------------------------------------------------------------------------


def test_sessions_listed_and_revoked_at_once(app: FastAPI, client: TestClient) -> None:
    admin = admin_headers(client)
    owner = new_org(app, client)
    dev = add_member(app, client, owner, "developer")
    second_token = login(client, dev.email)
    sessions = client.get(f"/v1/admin/customers/{owner.org_id}/sessions", headers=admin).json()["items"]
    assert {s["user_email"] for s in sessions} == {owner.email, dev.email}
    assert all(s["last_login_at"] and s["current_token_issued_at"] for s in sessions)
    assert client.get("/v1/flows", headers=dev.headers).status_code == 200
    revoked = client.delete(f"/v1/admin/customers/{owner.org_id}/sessions/{dev.email}", headers=admin)
    assert revoked.json() == {"status": "revoked", "user_email": dev.email, "deleted": 2}
    for token in (dev.token, second_token):
        assert client.get("/v1/flows", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/v1/flows", headers=owner.headers).status_code == 200
    after = client.get(f"/v1/admin/customers/{owner.org_id}/sessions", headers=admin).json()["items"]
    assert [s["user_email"] for s in after] == [owner.email]
    stranger = client.delete(f"/v1/admin/customers/{owner.org_id}/sessions/nobody@example.com", headers=admin)
    assert stranger.status_code == 404
    assert any(r["resource_type"] == "session" for r in audit_rows(client, owner.org_id))


def test_revocation_is_immediate_with_a_warm_principal_cache(settings: Settings) -> None:
    from dagy.server.app import create_app

    app = create_app(settings.model_copy(update={"auth_cache_seconds": 60}), migrate=False)
    with TestClient(app) as client:
        admin = admin_headers(client)
        owner = new_org(app, client)
        assert client.get("/v1/flows", headers=owner.headers).status_code == 200  # cached now
        client.delete(f"/v1/admin/customers/{owner.org_id}/sessions/{owner.email}", headers=admin)
        assert client.get("/v1/flows", headers=owner.headers).status_code == 401
        other = new_org(app, client)
        assert client.get("/v1/flows", headers=other.headers).status_code == 200
        client.post(f"/v1/admin/customers/{other.org_id}/suspend", headers=admin)
        assert client.get("/v1/flows", headers=other.headers).json()["error"] == "org_suspended"


# --- suspension -----------------------------------------------------------------------------------


def test_suspended_org_locks_members_out_but_not_super_admins(app: FastAPI, client: TestClient) -> None:
    admin = admin_headers(client)
    owner = new_org(app, client)
    viewer = add_member(app, client, owner, "viewer")
    key = api_key(client, owner, "flows.read")
    suspended = client.post(f"/v1/admin/customers/{owner.org_id}/suspend", headers=admin)
    assert suspended.json() == {"status": "suspended", "org_id": owner.org_id}
    for headers in (owner.headers, viewer.headers, key, {"Authorization": owner.headers["Authorization"]}):
        response = client.get("/v1/flows", headers=headers)
        assert response.status_code == 403 and response.json()["error"] == "org_suspended", response.text
    members = client.get(f"/v1/orgs/{owner.org_id}/members", headers=owner.headers)
    assert members.status_code == 403 and members.json()["error"] == "org_suspended"
    assert client.get(f"/v1/admin/customers/{owner.org_id}", headers=admin).json()["status"] == "suspended"
    impersonated = client.get("/v1/flows", headers=admin | {"X-Impersonate-Org": owner.org_id})
    assert impersonated.status_code == 200
    activated = client.post(f"/v1/admin/customers/{owner.org_id}/activate", headers=admin)
    assert activated.json() == {"status": "active", "org_id": owner.org_id}
    assert client.get("/v1/flows", headers=owner.headers).status_code == 200
    assert client.get("/v1/flows", headers=key).status_code == 200
    assert client.post("/v1/admin/customers/org_missing/suspend", headers=admin).status_code == 404
    assert client.post("/v1/admin/customers/org_missing/activate", headers=admin).status_code == 404
    statuses = [
        r["metadata"]["status"]
        for r in audit_rows(client, owner.org_id)
        if r["resource_type"] == "org" and r["actor_email"] == SUPERADMIN
    ]
    assert statuses == [["suspended", "active"], ["active", "suspended"]]


def test_member_of_another_org_keeps_working_in_it(app: FastAPI, client: TestClient) -> None:
    admin = admin_headers(client)
    first = new_org(app, client)
    second = new_org(app, client)
    both = add_member(app, client, first, "developer")
    client.post(f"/v1/admin/customers/{first.org_id}/suspend", headers=admin)
    headers = {"Authorization": both.headers["Authorization"]}
    assert client.get("/v1/flows", headers=headers).json()["error"] == "org_suspended"
    assert client.get("/v1/flows", headers=second.headers).status_code == 200


def test_suspended_org_runs_wait_unclaimed(
    app: FastAPI, client: TestClient, settings: Settings, pool: str
) -> None:
    admin = admin_headers(client)
    owner = new_org(app, client)
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    run_id = trigger(client, owner, flow)["run_id"]
    client.post(f"/v1/admin/customers/{owner.org_id}/suspend", headers=admin)
    assert claim_runs(client, worker_headers(settings), pool) == []
    client.post(f"/v1/admin/customers/{owner.org_id}/activate", headers=admin)
    assert [r["run_id"] for r in claim_runs(client, worker_headers(settings), pool)] == [run_id]


def test_suspended_org_schedules_do_not_fire(app: FastAPI, client: TestClient, settings: Settings) -> None:
    admin = admin_headers(client)
    owner = new_org(app, client)
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    body = {"schedule_id": unique("sched"), "flow_name": flow, "mode": "cron", "cron_expression": "* * * * *"}
    created = client.post("/v1/schedules", headers=owner.headers, json=body)
    assert created.status_code == 201, created.text
    client.post(f"/v1/admin/customers/{owner.org_id}/suspend", headers=admin)
    later = utcnow() + timedelta(minutes=3)

    def runs_of_org() -> int:
        with app.state.db.transaction(write=False) as session:
            return len(session.execute(select(Run.id).where(Run.org_id == owner.org_id)).all())

    def fire() -> None:
        with app.state.db.transaction(write=True) as session:
            fire_due_batch(session, now=later, grace=timedelta(hours=1), settings=settings, limit=10_000)

    fire()
    assert runs_of_org() == 0
    client.post(f"/v1/admin/customers/{owner.org_id}/activate", headers=admin)
    fire()
    assert runs_of_org() >= 1


def test_suspended_org_webhooks_are_refused(app: FastAPI, client: TestClient) -> None:
    admin = admin_headers(client)
    owner = new_org(app, client)
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    body = {"name": unique("hook"), "sensor_type": "webhook", "flow_name": flow}
    created = client.post("/v1/sensors", headers=owner.headers, json=body)
    assert created.status_code == 201, created.text
    path = f"/v1/webhooks/{created.json()['webhook_token']}"
    client.post(f"/v1/admin/customers/{owner.org_id}/suspend", headers=admin)
    refused = client.post(path, json={"a": 1})
    assert refused.status_code == 403 and refused.json()["error"] == "org_suspended"
    client.post(f"/v1/admin/customers/{owner.org_id}/activate", headers=admin)
    assert client.post(path, json={"a": 1}).status_code == 202


# --- credits ---------------------------------------------------------------------------------------


def test_credits_adjusted_never_below_zero_and_audited(app: FastAPI, client: TestClient) -> None:
    admin = admin_headers(client)
    owner = new_org(app, client)
    url = f"/v1/admin/customers/{owner.org_id}/credits"
    added = client.post(url, headers=admin, json={"amount": 500.0, "reason": "welcome"})
    assert added.json() == {"org_id": owner.org_id, "credits_balance": 500.0}
    assert client.post(url, headers=admin, json={"amount": -120.5}).json()["credits_balance"] == 379.5
    overdraw = client.post(url, headers=admin, json={"amount": -400})
    assert overdraw.status_code == 400 and overdraw.json()["error"] == "insufficient_credits"
    for bad in ({"amount": "100"}, {"amount": "abc"}, {"amount": None}, {}, {"amount": 0}, {"amount": True}):
        response = client.post(url, headers=admin, json=bad)
        assert response.status_code == 400, (bad, response.text)
    assert (
        client.post("/v1/admin/customers/org_missing/credits", headers=admin, json={"amount": 1}).status_code
        == 404
    )
    assert client.get(f"/v1/admin/customers/{owner.org_id}", headers=admin).json()["credits_balance"] == 379.5
    credits = [r for r in audit_rows(client, owner.org_id) if r["resource_type"] == "credits"]
    assert [r["metadata"]["amount"] for r in credits] == [-120.5, 500.0]
    assert all(r["actor_email"] == SUPERADMIN for r in credits)
    with app.state.db.transaction(write=False) as session:
        ledger = session.execute(
            select(CreditEntry.amount, CreditEntry.balance_after, CreditEntry.actor_email, CreditEntry.reason)
            .where(CreditEntry.org_id == owner.org_id)
            .order_by(CreditEntry.created_at, CreditEntry.id)
        ).all()
    assert [tuple(r) for r in ledger] == [
        (500.0, 500.0, SUPERADMIN, "welcome"),
        (-120.5, 379.5, SUPERADMIN, None),
    ]


def test_charge_credits_refuses_overdraft_as_a_whole(app: FastAPI, client: TestClient) -> None:
    admin = admin_headers(client)
    owner = new_org(app, client)
    client.post(f"/v1/admin/customers/{owner.org_id}/credits", headers=admin, json={"amount": 10})
    with app.state.db.transaction(write=True) as session:
        assert charge_credits(session, owner.org_id, 2.5, "studio turn") == 7.5
    with pytest.raises(InsufficientCredits), app.state.db.transaction(write=True) as session:
        charge_credits(session, owner.org_id, 8, "studio turn")
    assert client.get(f"/v1/admin/customers/{owner.org_id}", headers=admin).json()["credits_balance"] == 7.5


# --- impersonation ---------------------------------------------------------------------------------


def test_impersonation_acts_as_owner_and_is_audited(app: FastAPI, client: TestClient) -> None:
    admin = admin_headers(client)
    owner = new_org(app, client)
    started = client.post(f"/v1/admin/impersonate/{owner.org_id}", headers=admin)
    assert started.status_code == 200
    assert started.json()["org_id"] == owner.org_id and started.json()["impersonating"] is True
    assert client.post("/v1/admin/impersonate/org_missing", headers=admin).status_code == 404
    acting = admin | {"X-Impersonate-Org": owner.org_id}
    me = client.get("/v1/users/me", headers=acting).json()
    assert me["org_id"] == owner.org_id and me["role"] == "owner" and me["user_email"] == SUPERADMIN
    name = unique("flow")
    created = client.post(
        "/v1/flows", headers=acting, json={"flow_name": name, "flow_spec": spec(python_node("only", OK))}
    )
    assert created.status_code == 201, created.text
    assert client.get(f"/v1/flows/{name}/versions", headers=owner.headers).status_code == 200
    trail = client.get("/v1/audit-logs", params={"resource_type": "flow"}, headers=owner.headers).json()[
        "items"
    ]
    assert trail[0]["resource_name"] == name and trail[0]["actor_email"] == SUPERADMIN
    assert trail[0]["changes"]["impersonating"] is True
    [began] = [r for r in audit_rows(client, owner.org_id) if r["resource_type"] == "impersonation"]
    assert began["actor_email"] == SUPERADMIN and began["metadata"] == {"impersonating": True}
    missing = client.get("/v1/flows", headers=admin | {"X-Impersonate-Org": "org_missing"})
    assert missing.status_code == 404


def test_impersonation_lists_the_impersonated_org_alone(app: FastAPI, client: TestClient) -> None:
    # A super admin with an org of their own (a test's own, as in `super_admin_api_key`).
    own = new_org(app, client)
    app.state.settings.superadmin_emails.append(own.email)
    admin = {"Authorization": own.headers["Authorization"]}
    owner = new_org(app, client)
    acting = admin | {"X-Impersonate-Org": owner.org_id}
    [listed] = client.get("/v1/orgs", headers=acting).json()["items"]
    assert listed["org_id"] == owner.org_id and listed["role"] == "owner"
    members = client.get(f"/v1/orgs/{owner.org_id}/members", headers=acting)
    assert members.status_code == 200, members.text
    assert [o["org_id"] for o in client.get("/v1/orgs", headers=admin).json()["items"]] == [own.org_id]


def test_impersonation_header_refused_to_everyone_else(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    other = new_org(app, client)
    admin_key = super_admin_api_key(app, client)
    header = {"X-Impersonate-Org": other.org_id}
    for headers in (
        owner.headers,
        api_key(client, owner, "flows.read"),
        admin_key,
        {"X-Org-Id": owner.org_id},
    ):
        response = client.get("/v1/flows", headers=headers | header)
        expected = 401 if "Authorization" not in headers else 403
        assert response.status_code == expected, (headers, response.text)
    own = client.get("/v1/flows", headers=owner.headers | {"X-Impersonate-Org": owner.org_id})
    assert own.status_code == 403
    assert client.get("/v1/flows", headers=owner.headers).status_code == 200
