"""`/deployments` and `/backends` through HTTP: the reference's fields and status codes, settings
validation, rollback, tenancy, audit, and runs triggered by a deployment."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.domains.deployments.service import deploy_flow_version
from dagy.server.domains.flows import repository as flows
from dagy.server.errors import Conflict, InvalidInput
from dagy.server.identity import Actor, Principal, PrincipalKind
from dagy.server.settings import BUILT_IN_EXECUTORS, Settings
from tests.factories import Caller, add_member, new_org, unique
from tests.flow_factories import python_node, register_flow, spec, wait_for_run

OK = "def main(inputs, params):\n    return params\n"
BOOM = "def main(inputs, params):\n    raise ValueError('bad input')\n"
READ_FIELDS = {
    "deployment_id",
    "deployment_name",
    "name",
    "flow_name",
    "flow_version",
    "environment",
    "schedule",
    "default_executor",
    "execution_mode",
    "tags",
    "dep_package_slugs",
    "max_retries",
    "status",
    "created_at",
    "updated_at",
    "promoted_from_env",
    "promoted_from_deployment",
    "promoted_at",
}


def flow_with_versions(client: TestClient, caller: Caller, count: int = 1, code: str = OK) -> str:
    name = register_flow(client, caller, spec(python_node("only", code)))
    for _ in range(count - 1):
        register_flow(client, caller, spec(python_node("only", code)), flow_name=name)
    return name


def deploy(client: TestClient, caller: Caller, flow: str, status: int = 201, **body: Any) -> dict[str, Any]:
    body = {"name": body.pop("name", None) or unique("dep"), "flow_name": flow} | body
    response = client.post("/v1/deployments", headers=caller.headers, json=body)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


def environment(client: TestClient, caller: Caller, **body: Any) -> str:
    name = body.pop("env_name", None) or unique("env")
    response = client.post("/v1/environments", headers=caller.headers, json={"env_name": name, **body})
    assert response.status_code == 201, response.text
    return name


def trail(client: TestClient, caller: Caller, deployment_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/audit-logs/resource/deployment/{deployment_id}", headers=caller.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def settings_of(client: TestClient, caller: Caller, name: str, body: Any) -> Any:
    return client.put(f"/v1/deployments/{name}/settings", headers=caller.headers, json=body)


def test_create_answers_201_then_the_same_name_updates_with_200(client: TestClient, owner: Caller) -> None:
    flow = flow_with_versions(client, owner, 2)
    env = environment(client, owner)
    created = deploy(
        client,
        owner,
        flow,
        name="my-flow-prod",
        flow_version=1,
        environment=env,
        schedule="0 9 * * *",
        default_executor="local",
        execution_mode="micro",
        tags=["production", "critical"],
        dep_package_slugs=["pandas-layer"],
        max_retries=2,
    )
    assert set(created) == READ_FIELDS and created["deployment_id"].startswith("deploy_")
    assert created["name"] == created["deployment_name"] == "my-flow-prod"
    assert (created["flow_name"], created["flow_version"], created["environment"]) == (flow, "1", env)
    assert created["tags"] == {"production": "", "critical": ""}
    assert (created["schedule"], created["default_executor"], created["execution_mode"]) == (
        "0 9 * * *",
        "local",
        "micro",
    )
    assert (created["dep_package_slugs"], created["max_retries"], created["status"]) == (
        ["pandas-layer"],
        2,
        "active",
    )
    assert created["created_at"].endswith("Z") and created["promoted_at"] is None

    updated = deploy(client, owner, flow, status=200, name="my-flow-prod", tags={"team": "data"})
    assert updated["deployment_id"] == created["deployment_id"]
    assert updated["flow_version"] == "2"  # no flow_version: the latest
    assert updated["tags"] == {"team": "data"}
    assert (updated["environment"], updated["schedule"], updated["max_retries"]) == (env, "0 9 * * *", 2)
    cleared = deploy(client, owner, flow, status=200, name="my-flow-prod", schedule=None, environment=None)
    assert (cleared["schedule"], cleared["environment"]) == (None, None)
    got = client.get("/v1/deployments/my-flow-prod", headers=owner.headers).json()
    assert got == cleared


def test_create_404s_and_leaves_nothing(client: TestClient, owner: Caller) -> None:
    flow = flow_with_versions(client, owner)
    cases = [
        ({"flow_name": unique("nope")}, "flow_name"),
        ({"flow_name": flow, "flow_version": "9"}, "flow_version"),
        ({"flow_name": flow, "environment": "missing-env"}, "environment"),
    ]
    for body, field in cases:
        name = unique("dep")
        response = client.post("/v1/deployments", headers=owner.headers, json={"name": name, **body})
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "not_found" and field in response.json()["details"]
        assert client.get(f"/v1/deployments/{name}", headers=owner.headers).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "bad name"}, "name"),
        ({"max_retries": 11}, "max_retries"),
        ({"execution_mode": "huge"}, "execution_mode"),
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"schedule": "0 9 * * * *"}, "schedule"),
        ({"schedule": "30s"}, "schedule"),
        ({"default_executor": "tpu"}, "default_executor"),
        ({"tags": {"k": 1}}, "tags"),
        ({"dep_package_slugs": ["no spaces"]}, "dep_package_slugs.0"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_create_rejects_invalid_configuration(
    client: TestClient, owner: Caller, body: dict[str, Any], field: str
) -> None:
    flow = flow_with_versions(client, owner)
    payload = {"name": unique("dep"), "flow_name": flow} | body
    response = client.post("/v1/deployments", headers=owner.headers, json=payload)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_input"
    assert any(k.startswith(field) for k in response.json()["details"]), response.json()


def test_a_name_belongs_to_one_flow(client: TestClient, owner: Caller) -> None:
    first, second = flow_with_versions(client, owner), flow_with_versions(client, owner)
    name = deploy(client, owner, first)["name"]
    response = client.post("/v1/deployments", headers=owner.headers, json={"name": name, "flow_name": second})
    assert response.status_code == 409 and response.json()["details"] == {
        "name": "this deployment belongs to another flow; delete it or choose another name"
    }
    assert client.get(f"/v1/deployments/{name}", headers=owner.headers).json()["flow_name"] == first


def test_list_filters_by_environment_and_pages(client: TestClient, owner: Caller) -> None:
    flow = flow_with_versions(client, owner)
    env = environment(client, owner)
    names = sorted(
        deploy(client, owner, flow, name=f"d{i}-{unique()}", environment=env)["name"] for i in range(3)
    )
    outside = deploy(client, owner, flow)["name"]
    listed = client.get("/v1/deployments", headers=owner.headers).json()
    assert [d["name"] for d in listed["items"]] == sorted([*names, outside]) and listed["next_token"] is None
    assert set(listed["items"][0]) == READ_FIELDS
    seen: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {"environment": env, "limit": 2} | ({"next_token": token} if token else {})
        page = client.get("/v1/deployments", headers=owner.headers, params=params).json()
        seen += [d["name"] for d in page["items"]]
        token = page["next_token"]
        if token is None:
            break
    assert seen == names
    unknown = client.get("/v1/deployments", headers=owner.headers, params={"environment": "nowhere"})
    assert unknown.status_code == 200 and unknown.json()["items"] == []
    for limit in (0, 501, "x"):
        response = client.get("/v1/deployments", headers=owner.headers, params={"limit": limit})
        assert response.status_code == 400 and "limit" in response.json()["details"]
    assert client.get("/v1/deployments", headers=owner.headers, params={"limit": 500}).status_code == 200
    bad = client.get("/v1/deployments", headers=owner.headers, params={"next_token": "garbage!"})
    assert bad.status_code == 400


def test_patch_changes_the_active_version_only(client: TestClient, owner: Caller) -> None:
    flow = flow_with_versions(client, owner, 3)
    created = deploy(client, owner, flow, flow_version="1", schedule="15m", execution_mode="small")
    name = created["name"]
    response = client.patch(f"/v1/deployments/{name}", headers=owner.headers, json={"flow_version": "3"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["flow_version"] == "3" and (body["schedule"], body["execution_mode"]) == ("15m", "small")
    assert body["updated_at"] >= created["updated_at"]
    back = client.patch(f"/v1/deployments/{name}", headers=owner.headers, json={"flow_version": 2})
    assert back.json()["flow_version"] == "2"
    missing = client.patch(f"/v1/deployments/{name}", headers=owner.headers, json={"flow_version": "9"})
    assert missing.status_code == 404 and "flow_version" in missing.json()["details"]
    nobody = client.patch(f"/v1/deployments/{unique()}", headers=owner.headers, json={"flow_version": "1"})
    assert nobody.status_code == 404
    assert client.patch(f"/v1/deployments/{name}", headers=owner.headers, json={}).status_code == 400


def test_settings_change_only_the_fields_given(client: TestClient, owner: Caller) -> None:
    flow = flow_with_versions(client, owner)
    name = deploy(client, owner, flow, schedule="0 9 * * *", tags={"a": "1"}, dep_package_slugs=["x"])["name"]
    response = settings_of(
        client, owner, name, {"execution_mode": "micro", "default_executor": "flow-executor"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["execution_mode"], body["default_executor"]) == ("micro", "flow-executor")
    assert (body["schedule"], body["tags"], body["dep_package_slugs"]) == ("0 9 * * *", {"a": "1"}, ["x"])
    body = settings_of(
        client,
        owner,
        name,
        {"tags": {"team": "data-eng"}, "dep_package_slugs": ["pandas-layer", "numpy-utils"]},
    ).json()
    assert body["tags"] == {"team": "data-eng"} and body["dep_package_slugs"] == [
        "pandas-layer",
        "numpy-utils",
    ]
    assert settings_of(client, owner, name, {"schedule": "0 9 * * 1-5"}).json()["schedule"] == "0 9 * * 1-5"
    assert settings_of(client, owner, name, {"schedule": "2h"}).json()["schedule"] == "2h"
    assert settings_of(client, owner, name, {"schedule": "60s"}).json()["schedule"] == "60s"
    assert settings_of(client, owner, name, {"schedule": ""}).json()["schedule"] is None
    assert settings_of(client, owner, name, {"default_executor": ""}).json()["default_executor"] is None
    assert settings_of(client, owner, name, {"max_retries": 3}).json()["max_retries"] == 3
    assert client.get(f"/v1/deployments/{name}", headers=owner.headers).json()["execution_mode"] == "micro"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"execution_mode": "huge"}, "execution_mode"),
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"schedule": "59s"}, "schedule"),
        ({"schedule": "every day"}, "schedule"),
        ({"default_executor": "tpu"}, "default_executor"),  # not an executor of this installation
        ({"tags": ["a"]}, "tags"),
        ({"schedule": None}, "body"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
def test_settings_reject_bad_values(
    client: TestClient, owner: Caller, body: dict[str, Any], field: str
) -> None:
    flow = flow_with_versions(client, owner)
    created = deploy(client, owner, flow, schedule="0 9 * * *")
    response = settings_of(client, owner, created["name"], body)
    assert response.status_code == 400, response.text
    assert any(k.startswith(field) for k in response.json()["details"]), response.json()
    assert client.get(f"/v1/deployments/{created['name']}", headers=owner.headers).json() == created
    assert settings_of(client, owner, unique("nope"), {"execution_mode": "nano"}).status_code == 404


def test_rollback_goes_to_an_earlier_version(client: TestClient, owner: Caller) -> None:
    flow = flow_with_versions(client, owner, 3)
    name = deploy(client, owner, flow, execution_mode="large")["name"]
    response = client.post(
        f"/v1/deployments/{name}/rollback", headers=owner.headers, json={"target_flow_version": "1"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"deployment_name", "previous_flow_version", "new_flow_version", "rolled_back_at"}
    assert (body["deployment_name"], body["previous_flow_version"], body["new_flow_version"]) == (
        name,
        "3",
        "1",
    )
    assert body["rolled_back_at"].endswith("Z")
    got = client.get(f"/v1/deployments/{name}", headers=owner.headers).json()
    assert (got["flow_version"], got["execution_mode"]) == ("1", "large")
    rollback = f"/v1/deployments/{name}/rollback"
    missing = client.post(rollback, headers=owner.headers, json={"target_flow_version": "7"})
    assert missing.status_code == 404 and "flow_version" in missing.json()["details"]
    later = client.post(rollback, headers=owner.headers, json={"target_flow_version": 2})
    assert later.status_code == 400 and "target_flow_version" in later.json()["details"]
    same = client.post(rollback, headers=owner.headers, json={"target_flow_version": "1"})
    assert same.status_code == 400
    nobody = client.post(
        f"/v1/deployments/{unique()}/rollback", headers=owner.headers, json={"target_flow_version": "1"}
    )
    assert nobody.status_code == 404
    assert client.post(rollback, headers=owner.headers, json={}).status_code == 400


def test_delete_answers_the_reference_body(client: TestClient, owner: Caller) -> None:
    name = deploy(client, owner, flow_with_versions(client, owner))["name"]
    response = client.delete(f"/v1/deployments/{name}", headers=owner.headers)
    assert response.status_code == 200 and response.json() == {"status": "deleted", "deployment_name": name}
    assert client.get(f"/v1/deployments/{name}", headers=owner.headers).status_code == 404
    assert client.delete(f"/v1/deployments/{name}", headers=owner.headers).status_code == 404


def test_every_change_is_audited(client: TestClient, owner: Caller) -> None:
    flow = flow_with_versions(client, owner, 2)
    created = deploy(client, owner, flow, flow_version="2", schedule="0 9 * * *")
    name, deployment_id = created["name"], created["deployment_id"]
    settings_of(client, owner, name, {"execution_mode": "medium"})
    client.post(f"/v1/deployments/{name}/rollback", headers=owner.headers, json={"target_flow_version": "1"})
    client.patch(f"/v1/deployments/{name}", headers=owner.headers, json={"flow_version": "2"})
    client.delete(f"/v1/deployments/{name}", headers=owner.headers)
    rows = list(reversed(trail(client, owner, deployment_id)))
    assert [r["action"] for r in rows] == ["create", "update", "update", "update", "delete"]
    assert rows[0]["changes"]["flow_version"] == [None, "2"]
    assert rows[0]["changes"]["schedule"] == [None, "0 9 * * *"]
    assert rows[1]["changes"] == {"execution_mode": ["nano", "medium"]}
    assert rows[2]["changes"] == {"flow_version": ["2", "1"], "rollback": ["2", "1"]}
    assert rows[3]["changes"] == {"flow_version": ["1", "2"]}
    assert rows[4]["changes"]["flow_name"] == [flow, None]


def test_backends_are_the_executors_this_installation_has(
    client: TestClient, owner: Caller, settings: Settings
) -> None:
    response = client.get("/v1/backends", headers=owner.headers)
    assert response.status_code == 200
    backends = {b["name"]: b for b in response.json()}
    assert set(backends) == set(BUILT_IN_EXECUTORS)
    local = backends["local"]
    assert local["max_concurrent_runs"] == settings.worker_concurrency
    assert local["max_timeout_seconds"] == 24 * 3600 and "cpu" in local["capabilities"]
    assert local["execution_modes"]["nano"] == 60 and local["execution_modes"]["xlarge"] == 86400
    assert list(local["execution_modes"]) == ["nano", "micro", "small", "medium", "large", "xlarge"]
    fleet = backends["flow-executor"]  # no worker of it has been heard from
    assert (fleet["available"], fleet["workers"], fleet["max_concurrent_runs"]) == (False, 0, 0)
    assert client.get("/v1/backends").status_code == 401


def test_viewers_read_and_may_not_write(app: FastAPI, client: TestClient, owner: Caller) -> None:
    viewer = add_member(app, client, owner, "viewer")
    flow = flow_with_versions(client, owner)
    name = deploy(client, owner, flow)["name"]
    assert client.get(f"/v1/deployments/{name}", headers=viewer.headers).status_code == 200
    assert client.get("/v1/deployments", headers=viewer.headers).status_code == 200
    assert client.get("/v1/backends", headers=viewer.headers).status_code == 200
    writes = [
        ("POST", "/v1/deployments", {"name": unique(), "flow_name": flow}),
        ("PATCH", f"/v1/deployments/{name}", {"flow_version": "1"}),
        ("PUT", f"/v1/deployments/{name}/settings", {"execution_mode": "micro"}),
        ("POST", f"/v1/deployments/{name}/rollback", {"target_flow_version": "1"}),
        ("DELETE", f"/v1/deployments/{name}", None),
    ]
    for method, path, body in writes:
        response = client.request(method, path, headers=viewer.headers, json=body)
        assert response.status_code == 403 and response.json()["error"] == "forbidden", (method, path)
    assert client.get(f"/v1/deployments/{name}", headers=owner.headers).json()["execution_mode"] == "nano"


def test_another_orgs_deployments_are_404_on_every_route(
    app: FastAPI, client: TestClient, owner: Caller
) -> None:
    theirs = new_org(app, client)
    flow = flow_with_versions(client, theirs, 2)
    env = environment(client, theirs)
    name = deploy(client, theirs, flow, environment=env)["name"]
    routes = [
        ("GET", f"/v1/deployments/{name}", None),
        ("PATCH", f"/v1/deployments/{name}", {"flow_version": "1"}),
        ("PUT", f"/v1/deployments/{name}/settings", {"execution_mode": "micro"}),
        ("POST", f"/v1/deployments/{name}/rollback", {"target_flow_version": "1"}),
        ("DELETE", f"/v1/deployments/{name}", None),
        ("POST", "/v1/deployments", {"name": unique(), "flow_name": flow}),
        ("POST", "/v1/runs", {"deployment": name}),
    ]
    for method, path, body in routes:
        response = client.request(method, path, headers=owner.headers, json=body)
        assert response.status_code == 404, (method, path, response.text)
    assert client.get("/v1/deployments", headers=owner.headers).json()["items"] == []
    assert (
        client.get("/v1/deployments", headers=owner.headers, params={"environment": env}).json()["items"]
        == []
    )
    mine = flow_with_versions(client, owner)
    foreign_env = client.post(
        "/v1/deployments",
        headers=owner.headers,
        json={"name": unique(), "flow_name": mine, "environment": env},
    )
    assert foreign_env.status_code == 404
    assert deploy(client, owner, mine, name=name)["name"] == name  # names are per org
    assert client.get(f"/v1/deployments/{name}", headers=theirs.headers).json()["flow_version"] == "2"


def test_deploy_flow_version_creates_then_moves_a_deployment(
    app: FastAPI, client: TestClient, owner: Caller, settings: Settings
) -> None:
    """The service `POST /flows` calls with a `deployment_name`."""
    flow = flow_with_versions(client, owner, 2)
    other = flow_with_versions(client, owner)
    actor = Actor(
        principal=Principal(
            kind=PrincipalKind.SESSION,
            user_id=None,
            email=owner.email,
            org_id=owner.org_id,
            org_name=None,
            role="owner",
            permissions=frozenset(),
        )
    )
    name = unique("dep")
    with app.state.db.transaction(write=True) as session:
        found = flows.get_flow(session, owner.org_id, flow)
        assert found is not None
        first = flows.get_version(session, owner.org_id, found.id, "1")
        assert first is not None
        deploy_flow_version(
            session,
            actor=actor,
            deployment_name=name,
            flow=found,
            version=first,
            settings=settings,
            schedule="0 6 * * *",
        )
    with app.state.db.transaction(write=True) as session:
        found = flows.get_flow(session, owner.org_id, flow)
        assert found is not None
        second = flows.get_version(session, owner.org_id, found.id, "2")
        assert second is not None
        moved = deploy_flow_version(
            session,
            actor=actor,
            deployment_name=name,
            flow=found,
            version=second,
            settings=settings,
            default_executor="local",
        )
        assert moved.flow_version_id == second.id
        with pytest.raises(InvalidInput):
            deploy_flow_version(
                session,
                actor=actor,
                deployment_name=name,
                flow=found,
                version=second,
                settings=settings,
                schedule="x",
            )
        foreign = flows.get_flow(session, owner.org_id, other)
        assert foreign is not None
        latest = flows.get_latest_version(session, owner.org_id, foreign.id)
        assert latest is not None
        with pytest.raises(Conflict):
            deploy_flow_version(
                session, actor=actor, deployment_name=name, flow=foreign, version=latest, settings=settings
            )
    got = client.get(f"/v1/deployments/{name}", headers=owner.headers).json()
    assert (got["flow_version"], got["schedule"], got["default_executor"]) == ("2", "0 6 * * *", "local")
    assert [r["action"] for r in trail(client, owner, got["deployment_id"])] == ["update", "create"]


def run_of(client: TestClient, caller: Caller, body: dict[str, Any], status: int = 202) -> dict[str, Any]:
    response = client.post("/v1/runs", headers=caller.headers, json=body)
    assert response.status_code == status, response.text
    if status != 202:
        return dict(response.json())
    run: dict[str, Any] = client.get(f"/v1/runs/{response.json()['run_id']}", headers=caller.headers).json()
    return run


def test_runs_of_a_deployment_use_its_version_and_settings(client: TestClient, owner: Caller) -> None:
    flow = flow_with_versions(client, owner, 3)
    env = environment(client, owner, default_executor="flow-executor")
    name = deploy(client, owner, flow, flow_version="2", execution_mode="small", default_executor="local")[
        "name"
    ]
    run = run_of(client, owner, {"deployment": name, "parameters": {"p": 1}})
    assert (run["flow_name"], run["flow_version"], run["deployment_name"]) == (flow, "2", name)
    assert (run["executor"], run["execution_mode"], run["parameters"]) == ("local", "small", {"p": 1})
    explicit = run_of(
        client, owner, {"deployment": name, "execution_mode": "nano", "executor": "flow-executor"}
    )
    assert (explicit["execution_mode"], explicit["executor"]) == ("nano", "flow-executor")
    in_env = deploy(client, owner, flow, environment=env)["name"]
    assert run_of(client, owner, {"deployment": in_env})["executor"] == "flow-executor"  # the environment's
    plain = deploy(client, owner, flow)["name"]
    assert run_of(client, owner, {"deployment": plain})["executor"] == "local"  # the installation's
    assert run_of(client, owner, {"deployment": unique()}, status=404)["error"] == "not_found"
    for body, field in [
        ({"deployment": name, "flow_name": flow}, "deployment"),
        ({"deployment": name, "flow_version": "1"}, "flow_version"),
        ({}, "flow_name"),
    ]:
        assert field in run_of(client, owner, body, status=400)["details"]
    # No worker here: leave no queued run behind for another test's workers to claim.
    queued = client.get("/v1/runs", headers=owner.headers, params={"status": "queued"}).json()["items"]
    assert len(queued) == 4
    for leftover in queued:
        assert client.post(f"/v1/runs/{leftover['run_id']}/cancel", headers=owner.headers).status_code == 200


def test_a_deployment_run_retries_as_the_deployment_says(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner = new_org(app, client)
    flow = flow_with_versions(client, owner, code=BOOM)
    name = deploy(client, owner, flow, max_retries=1, default_executor="local")["name"]
    response = client.post("/v1/runs", headers=owner.headers, json={"deployment": name})
    assert response.status_code == 202, response.text
    run = wait_for_run(client, owner, response.json()["run_id"])
    assert (run["status"], run["retry_count"], run["deployment_name"]) == ("failed", 1, name)
