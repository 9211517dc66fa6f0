"""A deployment's `schedule` field is its schedule `deploy-<name>`: created, changed and removed with
the field, fired as a run of the deployment, partly adjustable through `/schedules`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.domains.schedules.deployment_sync import deployment_schedule_id
from dagy.server.services.scheduler import tick
from dagy.server.settings import Settings
from tests.factories import Caller, new_org, unique
from tests.flow_factories import python_node, register_flow, spec

OK = "def main(inputs, params):\n    return params\n"

# Like the scheduler's tests, this module ticks a clock ahead of the real one: a database of its own.
pytestmark = pytest.mark.settings("own_database_settings")


@pytest.fixture
def two_version_flow(client: TestClient, owner: Caller, flow: str) -> str:
    """`flow` with a second, identical version: a deployment can move from version 1 to 2."""
    register_flow(client, owner, spec(python_node("only", OK)), flow_name=flow)
    return flow


def deploy(client: TestClient, caller: Caller, flow: str, **body: Any) -> dict[str, Any]:
    body = {"name": unique("dep"), "flow_name": flow} | body
    response = client.post("/v1/deployments", headers=caller.headers, json=body)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def schedule(client: TestClient, caller: Caller, deployment: str) -> Any:
    return client.get(f"/v1/schedules/deploy-{deployment}", headers=caller.headers)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_schedule_field_takes_the_cron_language_of_schedules(
    client: TestClient, owner: Caller, two_version_flow: str
) -> None:
    """Aliases such as `@daily` work in a deployment's `schedule` as on `POST /v1/schedules`; what
    neither accepts is a 400 naming `schedule`."""
    name = deploy(client, owner, two_version_flow, schedule="@daily")["deployment_name"]
    daily = schedule(client, owner, name).json()
    assert (daily["mode"], daily["cron_expression"]) == ("cron", "@daily")
    assert at(daily["next_run_at"]).hour == 0
    settings = f"/v1/deployments/{name}/settings"
    bad = client.put(settings, headers=owner.headers, json={"schedule": "@sometimes"})
    assert bad.status_code == 400 and "schedule" in bad.json()["details"]


def test_the_schedule_field_creates_changes_and_removes_the_schedule(
    client: TestClient, owner: Caller, two_version_flow: str
) -> None:
    name = deploy(client, owner, two_version_flow, schedule="0 9 * * 1-5")["deployment_name"]
    created = schedule(client, owner, name).json()
    assert created["deployment_name"] == name and created["flow_name"] == two_version_flow
    assert created["mode"] == "cron" and created["cron_expression"] == "0 9 * * 1-5"
    assert (
        created["timezone"] == "UTC"
        and created["catchup_policy"] == "skip"
        and created["flow_version"] is None
    )
    assert at(created["next_run_at"]).hour == 9
    response = client.put(f"/v1/deployments/{name}/settings", headers=owner.headers, json={"schedule": "30m"})
    assert response.status_code == 200, response.text
    interval = schedule(client, owner, name).json()
    assert interval["mode"] == "interval" and interval["interval_seconds"] == 1800
    assert interval["cron_expression"] is None
    assert at(interval["next_run_at"]) - at(interval["created_at"]) <= timedelta(minutes=30)
    client.put(f"/v1/deployments/{name}/settings", headers=owner.headers, json={"execution_mode": "micro"})
    assert schedule(client, owner, name).json()["next_run_at"] == interval["next_run_at"]  # untouched
    assert (
        client.put(
            f"/v1/deployments/{name}/settings", headers=owner.headers, json={"schedule": ""}
        ).status_code
        == 200
    )
    assert schedule(client, owner, name).status_code == 404
    deploy(client, owner, two_version_flow, name=name, schedule="0 0 * * *")
    assert schedule(client, owner, name).json()["cron_expression"] == "0 0 * * *"
    deploy(client, owner, two_version_flow, name=name, schedule=None)
    assert schedule(client, owner, name).status_code == 404


def test_registering_a_flow_with_a_deployment_and_schedule_makes_it(
    client: TestClient, owner: Caller
) -> None:
    name = unique("dep")
    flow = register_flow(
        client, owner, spec(python_node("only", OK)), deployment_name=name, schedule="15 * * * *"
    )
    made = schedule(client, owner, name).json()
    assert made["flow_name"] == flow and made["cron_expression"] == "15 * * * *"


def test_the_schedule_keeps_its_own_settings_and_refuses_the_deployments(
    client: TestClient, owner: Caller, two_version_flow: str
) -> None:
    name = deploy(client, owner, two_version_flow, schedule="0 9 * * *")["deployment_name"]
    path = f"/v1/schedules/deploy-{name}"
    patched = client.patch(
        path,
        headers=owner.headers,
        json={"timezone": "Asia/Tokyo", "catchup_policy": "all", "parameters": {"a": 1}},
    )
    assert patched.status_code == 200, patched.text
    tokyo = at(patched.json()["next_run_at"]).astimezone(ZoneInfo("Asia/Tokyo"))
    assert (tokyo.hour, tokyo.minute) == (9, 0)
    client.put(f"/v1/deployments/{name}/settings", headers=owner.headers, json={"schedule": "0 18 * * *"})
    changed = client.get(path, headers=owner.headers).json()
    assert changed["timezone"] == "Asia/Tokyo" and changed["catchup_policy"] == "all"
    assert changed["parameters"] == {"a": 1}
    assert at(changed["next_run_at"]).astimezone(ZoneInfo("Asia/Tokyo")).hour == 18
    refused = client.patch(path, headers=owner.headers, json={"cron_expression": "0 1 * * *"})
    assert refused.status_code == 409 and refused.json()["details"] == {
        "cron_expression": "set by the deployment"
    }
    assert client.delete(path, headers=owner.headers).status_code == 409
    made_by_hand = client.post(
        "/v1/schedules",
        headers=owner.headers,
        json={"schedule_id": f"deploy-{unique()}", "flow_name": two_version_flow, "mode": "manual"},
    )
    assert made_by_hand.status_code == 400 and "schedule_id" in made_by_hand.json()["details"]


def test_it_runs_the_deployment_and_goes_with_it(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, two_version_flow: str
) -> None:
    name = deploy(
        client, owner, two_version_flow, schedule="0 9 * * *", flow_version="1", execution_mode="small"
    )["deployment_name"]
    made = schedule(client, owner, name).json()
    first = at(made["next_run_at"])
    triggered = client.post(f"/v1/schedules/deploy-{name}/trigger", headers=owner.headers)
    assert triggered.status_code == 202, triggered.text
    run = client.get(f"/v1/runs/{triggered.json()['run_id']}", headers=owner.headers).json()
    assert run["deployment_name"] == name and run["flow_version"] == "1" and run["execution_mode"] == "small"
    client.patch(f"/v1/deployments/{name}", headers=owner.headers, json={"flow_version": "2"})
    tick(app.state.db, settings=settings, now=first + timedelta(milliseconds=100))
    runs = client.get(f"/v1/schedules/deploy-{name}/runs", headers=owner.headers).json()["items"]
    fired = [r for r in runs if r["scheduled_for"]]
    assert len(fired) == 1 and fired[0]["flow_version"] == "2" and fired[0]["tags"] == ["scheduled"]
    assert client.delete(f"/v1/deployments/{name}", headers=owner.headers).status_code == 200
    assert schedule(client, owner, name).status_code == 404


def test_promotion_copies_the_schedule(client: TestClient, owner: Caller, two_version_flow: str) -> None:
    staging, production = unique("stg"), unique("prd")
    for env in (staging, production):
        assert (
            client.post("/v1/environments", headers=owner.headers, json={"env_name": env}).status_code == 201
        )
    name = deploy(client, owner, two_version_flow, environment=staging, schedule="45 6 * * *")[
        "deployment_name"
    ]
    promoted = client.post(
        "/v1/environments/promote",
        headers=owner.headers,
        json={
            "source_deployment": name,
            "target_environment": production,
            "new_deployment_name": f"{name}-p",
        },
    )
    assert promoted.status_code == 201, promoted.text
    assert schedule(client, owner, f"{name}-p").json()["cron_expression"] == "45 6 * * *"


def test_changes_are_audited_and_long_names_fit(
    client: TestClient, owner: Caller, two_version_flow: str
) -> None:
    name = deploy(client, owner, two_version_flow, schedule="0 9 * * *")["deployment_name"]
    client.put(f"/v1/deployments/{name}/settings", headers=owner.headers, json={"schedule": ""})
    rows = client.get(
        "/v1/audit-logs", headers=owner.headers, params={"resource_type": "schedule", "limit": 10}
    ).json()["items"]
    actions = [row["action"] for row in rows if row["resource_name"] == f"deploy-{name}"]
    assert sorted(actions) == ["create", "delete"]
    long_name = "d" * 128
    assert len(deployment_schedule_id(long_name)) == 128
    assert deployment_schedule_id(long_name) != deployment_schedule_id("d" * 127 + "e")
    deploy(client, owner, two_version_flow, name=long_name, schedule="0 9 * * *")
    listed = client.get("/v1/schedules", headers=owner.headers, params={"limit": 100}).json()["items"]
    assert deployment_schedule_id(long_name) in {item["schedule_id"] for item in listed}


def test_a_cron_that_never_fires_is_refused_naming_schedule(
    client: TestClient, owner: Caller, two_version_flow: str
) -> None:
    response = client.post(
        "/v1/deployments",
        headers=owner.headers,
        json={"name": unique("dep"), "flow_name": two_version_flow, "schedule": "0 0 30 2 *"},
    )
    assert response.status_code == 400 and "schedule" in response.json()["details"]


def test_another_org_cannot_see_it(
    app: FastAPI, client: TestClient, owner: Caller, two_version_flow: str
) -> None:
    name = deploy(client, owner, two_version_flow, schedule="0 9 * * *")["deployment_name"]
    other = new_org(app, client)
    assert schedule(client, other, name).status_code == 404
