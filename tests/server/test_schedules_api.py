"""`/schedules` through HTTP: every route, its refusals, audit rows and tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import Caller, add_member, new_org, unique
from tests.flow_factories import python_node, register_flow, spec

OK = "def main(inputs, params):\n    return params\n"


def create(client: TestClient, caller: Caller, flow: str, status: int = 201, **body: Any) -> dict[str, Any]:
    body = {
        "schedule_id": unique("sched"),
        "flow_name": flow,
        "mode": "cron",
        "cron_expression": "0 9 * * *",
    } | body
    response = client.post("/v1/schedules", headers=caller.headers, json=body)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_create_answers_the_schedule_with_its_next_run(client: TestClient, owner: Caller, flow: str) -> None:
    body = create(
        client,
        owner,
        flow,
        timezone="America/New_York",
        catchup_policy="all",
        parameters={"force_refresh": False},
        description="morning load",
    )
    assert body["flow_name"] == flow and body["flow_version"] is None and body["mode"] == "cron"
    assert body["enabled"] is True and body["timezone"] == "America/New_York"
    assert body["catchup_policy"] == "all" and body["cron_expression"] == "0 9 * * *"
    assert body["parameters"] == {"force_refresh": False} and body["description"] == "morning load"
    assert body["next_run_at"].endswith("Z") and body["last_run_at"] is None and body["last_run_id"] is None
    local = at(body["next_run_at"]).astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (9, 0)
    assert at(body["next_run_at"]) > datetime.now(UTC)
    fetched = client.get(f"/v1/schedules/{body['schedule_id']}", headers=owner.headers)
    assert fetched.status_code == 200 and fetched.json() == body


def test_flow_version_is_checked_and_answered_as_a_label(
    client: TestClient, owner: Caller, flow: str
) -> None:
    assert create(client, owner, flow, flow_version=1)["flow_version"] == "1"
    missing = create(client, owner, flow, status=404, flow_version=7)
    assert missing["error"] == "not_found" and "flow_version" in missing["details"]
    unknown = create(client, owner, unique("nope"), status=404)
    assert "flow_name" in unknown["details"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cron_expression": "61 * * * *"}, "cron_expression"),
        ({"cron_expression": "0 0 * * * *"}, "cron_expression"),
        ({"cron_expression": ""}, "cron_expression"),
        ({"cron_expression": "0 0 30 2 *"}, "cron_expression"),
        ({"cron_expression": None}, "cron_expression"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"catchup_policy": "sometimes"}, "catchup_policy"),
        ({"mode": "hourly"}, "mode"),
        ({"mode": "interval", "cron_expression": None, "interval_seconds": 59}, "interval_seconds"),
        ({"mode": "interval", "cron_expression": None}, "interval_seconds"),
        ({"mode": "interval", "interval_seconds": 300}, "cron_expression"),
        ({"mode": "one_time", "cron_expression": None}, "one_time_at"),
        ({"mode": "one_time", "cron_expression": None, "one_time_at": "2020-01-01T00:00:00Z"}, "one_time_at"),
        ({"mode": "manual"}, "cron_expression"),
        ({"parameters": [1, 2]}, "parameters"),
        ({"start_at": "2030-01-02T00:00:00Z", "end_at": "2030-01-01T00:00:00Z"}, "end_at"),
        ({"schedule_id": "deploy-mine"}, "schedule_id"),
        ({"schedule_id": "has space"}, "schedule_id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_configurations_are_400_naming_the_field(
    client: TestClient, owner: Caller, flow: str, body: dict[str, Any], field: str
) -> None:
    error = create(client, owner, flow, status=400, **body)
    assert error["error"] == "invalid_input"
    assert field in error["details"], error


@pytest.mark.parametrize(
    "expression",
    ["*/5 1-3 * JAN,FEB MON-FRI", "0 0 1 * *", "@hourly", "@daily", "@weekly", "@monthly", "@yearly",
     "@annually", "@midnight", "15,45 * * * sun"],
)  # fmt: skip
def test_cron_syntax_accepted(client: TestClient, owner: Caller, flow: str, expression: str) -> None:
    assert create(client, owner, flow, cron_expression=expression)["next_run_at"] is not None


def test_every_mode(client: TestClient, owner: Caller, flow: str) -> None:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    interval = create(
        client,
        owner,
        flow,
        mode="interval",
        cron_expression=None,
        interval_seconds=3600,
        start_at=start.isoformat(),
    )
    assert at(interval["next_run_at"]) == start and interval["interval_seconds"] == 3600
    once = create(client, owner, flow, mode="one_time", cron_expression=None, start_at=start.isoformat())
    assert at(once["next_run_at"]) == start
    local = create(
        client,
        owner,
        flow,
        mode="one_time",
        cron_expression=None,
        timezone="Asia/Tokyo",
        one_time_at="2031-05-01T09:00:00",
    )
    assert local["next_run_at"] == "2031-05-01T00:00:00Z"  # an offset-less time is read in the zone
    manual = create(client, owner, flow, mode="manual", cron_expression=None)
    assert manual["next_run_at"] is None
    disabled = create(client, owner, flow, enabled=False)
    assert disabled["next_run_at"] is None
    ended = create(client, owner, flow, end_at="2021-01-01T00:00:00Z", start_at="2020-01-01T00:00:00Z")
    assert ended["next_run_at"] is None


def test_duplicate_schedule_id_is_409_within_an_org_only(
    app: FastAPI, client: TestClient, owner: Caller, flow: str
) -> None:
    first = create(client, owner, flow)
    error = create(client, owner, flow, status=409, schedule_id=first["schedule_id"])
    assert error["error"] == "conflict" and "schedule_id" in error["details"]
    other = new_org(app, client)
    other_flow = register_flow(client, other, spec(python_node("only", OK)), flow_name=flow)
    create(client, other, other_flow, schedule_id=first["schedule_id"])


def test_list_filters_and_pages(client: TestClient, owner: Caller, flow: str) -> None:
    other_flow = register_flow(client, owner, spec(python_node("only", OK)))
    made = [create(client, owner, flow, schedule_id=f"a-{i}-{unique()}") for i in range(5)]
    create(client, owner, flow, mode="interval", cron_expression=None, interval_seconds=600)
    create(client, owner, flow, enabled=False)
    create(client, owner, other_flow)
    seen: list[str] = []
    token = None
    while True:
        query = {"flow_name": flow, "mode": "cron", "enabled": "true", "limit": 2} | (
            {"next_token": token} if token else {}
        )
        page = client.get("/v1/schedules", headers=owner.headers, params=query).json()
        assert len(page["items"]) <= 2
        seen += [item["schedule_id"] for item in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert seen == sorted(m["schedule_id"] for m in made)
    everything = client.get("/v1/schedules", headers=owner.headers).json()["items"]
    assert len(everything) == 8
    assert client.get("/v1/schedules?limit=101", headers=owner.headers).status_code == 400
    assert client.get("/v1/schedules?mode=hourly", headers=owner.headers).json()["details"] == {
        "mode": "one of cron, interval, one_time, manual"
    }


def test_listed_parameters_keep_integers_past_64_bits(client: TestClient, owner: Caller, flow: str) -> None:
    """A list page reads JSON as the unit of work does: 2**70 stays an integer, not a float."""
    big = {"n": 2**70, "negative": -(2**63) - 1, "digits": "1234567890123456789012", "ok": 1}
    made = create(client, owner, flow, parameters=big)
    listed = client.get("/v1/schedules", headers=owner.headers, params={"flow_name": flow}).json()["items"]
    assert [item["parameters"] for item in listed if item["schedule_id"] == made["schedule_id"]] == [big]
    raw = client.get("/v1/schedules", headers=owner.headers).text
    assert '"n":1180591620717411303424' in raw.replace(" ", "")


def test_patch_changes_only_the_fields_given(client: TestClient, owner: Caller, flow: str) -> None:
    made = create(client, owner, flow, parameters={"a": 1}, description="old")
    path = f"/v1/schedules/{made['schedule_id']}"
    response = client.patch(
        path, headers=owner.headers, json={"cron_expression": "0 6 * * *", "timezone": "Europe/London"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cron_expression"] == "0 6 * * *" and body["timezone"] == "Europe/London"
    assert body["parameters"] == {"a": 1} and body["description"] == "old"
    london = at(body["next_run_at"]).astimezone(__import__("zoneinfo").ZoneInfo("Europe/London"))
    assert (london.hour, london.minute) == (6, 0)
    assert at(body["updated_at"]) >= at(made["updated_at"])
    disabled = client.patch(path, headers=owner.headers, json={"enabled": False}).json()
    assert disabled["enabled"] is False and disabled["next_run_at"] is None
    enabled = client.patch(path, headers=owner.headers, json={"enabled": True}).json()
    assert enabled["next_run_at"] is not None


def test_patch_checks_the_result_as_a_whole(client: TestClient, owner: Caller, flow: str) -> None:
    made = create(client, owner, flow)
    path = f"/v1/schedules/{made['schedule_id']}"

    def patch(body: dict[str, Any]) -> Any:
        return client.patch(path, headers=owner.headers, json=body)

    assert patch({"interval_seconds": 600}).json()["details"] == {
        "interval_seconds": "only for interval schedules"
    }
    assert "cron_expression" in patch({"cron_expression": "61 * * * *"}).json()["details"]
    assert "cron_expression" in patch({"cron_expression": None}).json()["details"]
    assert "enabled" in patch({"enabled": None}).json()["details"]
    assert "timezone" in patch({"timezone": "Nowhere/Land"}).json()["details"]
    assert patch({}).status_code == 400
    switched = patch({"mode": "interval", "interval_seconds": 900})
    assert switched.status_code == 200, switched.text
    assert switched.json()["cron_expression"] is None and switched.json()["mode"] == "interval"
    assert patch({"flow_version": 9}).status_code == 404
    assert (
        client.patch("/v1/schedules/nope", headers=owner.headers, json={"enabled": False}).status_code == 404
    )


def test_trigger_merges_parameters_and_lists_the_run(client: TestClient, owner: Caller, flow: str) -> None:
    made = create(client, owner, flow, parameters={"force_refresh": False, "region": "eu"})
    path = f"/v1/schedules/{made['schedule_id']}"
    response = client.post(
        f"{path}/trigger", headers=owner.headers, json={"parameters": {"force_refresh": True}}
    )
    assert response.status_code == 202, response.text
    triggered = response.json()
    assert triggered["schedule_id"] == made["schedule_id"] and triggered["status"] == "queued"
    assert triggered["run_slug"].startswith(flow)
    run = client.get(f"/v1/runs/{triggered['run_id']}", headers=owner.headers).json()
    assert run["parameters"] == {"force_refresh": True, "region": "eu"}
    assert run["tags"] == ["manual"]
    again = client.post(f"{path}/trigger", headers=owner.headers)
    assert again.status_code == 202
    schedule = client.get(path, headers=owner.headers).json()
    assert schedule["last_run_id"] == again.json()["run_id"]
    runs = client.get(f"{path}/runs", headers=owner.headers, params={"limit": 1}).json()
    assert [r["run_id"] for r in runs["items"]] == [again.json()["run_id"]]
    assert runs["items"][0]["scheduled_for"] is None and runs["items"][0]["tags"] == ["manual"]
    rest = client.get(f"{path}/runs", headers=owner.headers, params={"next_token": runs["next_token"]}).json()
    assert [r["run_id"] for r in rest["items"]] == [triggered["run_id"]] and rest["next_token"] is None
    assert client.post("/v1/schedules/nope/trigger", headers=owner.headers).status_code == 404


def test_delete_keeps_the_runs(client: TestClient, owner: Caller, flow: str) -> None:
    made = create(client, owner, flow)
    path = f"/v1/schedules/{made['schedule_id']}"
    run_id = client.post(f"{path}/trigger", headers=owner.headers).json()["run_id"]
    assert client.delete(path, headers=owner.headers).status_code == 204
    assert client.get(path, headers=owner.headers).status_code == 404
    assert client.delete(path, headers=owner.headers).status_code == 404
    assert client.get(f"/v1/runs/{run_id}", headers=owner.headers).status_code == 200


def test_deleting_the_flow_deletes_its_schedules(client: TestClient, owner: Caller, flow: str) -> None:
    made = create(client, owner, flow)
    assert client.delete(f"/v1/flows/{flow}", headers=owner.headers).status_code == 200
    assert client.get(f"/v1/schedules/{made['schedule_id']}", headers=owner.headers).status_code == 404


def test_every_change_is_audited(client: TestClient, owner: Caller, flow: str) -> None:
    made = create(client, owner, flow)
    path = f"/v1/schedules/{made['schedule_id']}"
    client.patch(path, headers=owner.headers, json={"description": "new"})
    run_id = client.post(f"{path}/trigger", headers=owner.headers).json()["run_id"]
    client.delete(path, headers=owner.headers)
    rows = client.get(
        "/v1/audit-logs", headers=owner.headers, params={"resource_type": "schedule", "limit": 10}
    ).json()["items"]
    by_action = {row["action"]: row for row in rows if row["resource_name"] == made["schedule_id"]}
    assert set(by_action) == {"create", "update", "execute", "delete"}
    assert by_action["update"]["changes"] == {"description": [None, "new"]}
    assert by_action["execute"]["changes"] == {"run_id": [None, run_id]}
    assert by_action["create"]["changes"]["cron_expression"] == [None, "0 9 * * *"]


def test_permissions_by_role(app: FastAPI, client: TestClient, owner: Caller, flow: str) -> None:
    """Writing needs schedules.write, deleting schedules.delete (owners only), triggering
    runs.trigger, reading schedules.read."""
    made = create(client, owner, flow)
    path = f"/v1/schedules/{made['schedule_id']}"
    viewer = add_member(app, client, owner, "viewer")
    admin = add_member(app, client, owner, "admin")
    developer = add_member(app, client, owner, "developer")
    assert client.get(path, headers=viewer.headers).status_code == 200
    assert client.get(f"{path}/runs", headers=viewer.headers).status_code == 200
    assert client.post(f"{path}/trigger", headers=viewer.headers).status_code == 403
    assert client.patch(path, headers=viewer.headers, json={"enabled": False}).status_code == 403
    assert create(client, viewer, flow, status=403)["error"] == "forbidden"
    assert client.post(f"{path}/trigger", headers=developer.headers).status_code == 202
    assert client.patch(path, headers=developer.headers, json={"enabled": False}).status_code == 200
    assert client.delete(path, headers=developer.headers).status_code == 403
    assert client.delete(path, headers=admin.headers).status_code == 403
    assert client.delete(path, headers=owner.headers).status_code == 204


def test_another_orgs_schedule_is_404_on_every_route(
    app: FastAPI, client: TestClient, owner: Caller, flow: str
) -> None:
    made = create(client, owner, flow)
    path = f"/v1/schedules/{made['schedule_id']}"
    other = new_org(app, client)
    assert client.get(path, headers=other.headers).status_code == 404
    assert client.patch(path, headers=other.headers, json={"enabled": False}).status_code == 404
    assert client.post(f"{path}/trigger", headers=other.headers).status_code == 404
    assert client.get(f"{path}/runs", headers=other.headers).status_code == 404
    assert client.delete(path, headers=other.headers).status_code == 404
    assert client.get("/v1/schedules", headers=other.headers).json()["items"] == []
    assert create(client, other, flow, status=404)["details"] == {"flow_name": "no such flow"}
    assert client.get(path, headers=owner.headers).json()["enabled"] is True


def test_environment_targets_the_flows_deployment_there(client: TestClient, owner: Caller, flow: str) -> None:
    env = unique("env")
    assert client.post("/v1/environments", headers=owner.headers, json={"env_name": env}).status_code == 201
    deployment = unique("dep")
    response = client.post(
        "/v1/deployments",
        headers=owner.headers,
        json={"name": deployment, "flow_name": flow, "environment": env, "execution_mode": "micro"},
    )
    assert response.status_code == 201, response.text
    made = create(client, owner, flow, environment=env)
    triggered = client.post(f"/v1/schedules/{made['schedule_id']}/trigger", headers=owner.headers).json()
    run = client.get(f"/v1/runs/{triggered['run_id']}", headers=owner.headers).json()
    assert run["deployment_name"] == deployment and run["execution_mode"] == "micro"
    assert create(client, owner, flow, status=404, environment="no-such-env")["details"] == {
        "environment": "no such environment"
    }
    assert (
        "environment" in create(client, owner, flow, status=400, environment=env, flow_version=1)["details"]
    )
