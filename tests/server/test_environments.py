"""`/environments` through HTTP: CRUD, variables, promotion order, diff and promotion, with every
documented status code, tenancy and the audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import Caller, add_member, new_org, unique
from tests.flow_factories import python_node, register_flow, spec

OK = "def main(inputs, params):\n    return params\n"


def env_name() -> str:
    return unique("env")


def create_env(client: TestClient, caller: Caller, name: str | None = None, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/environments", headers=caller.headers, json={"env_name": name or env_name(), **body}
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def new_flow(client: TestClient, caller: Caller, versions: int = 1) -> str:
    name = register_flow(client, caller, spec(python_node("only", OK)))
    for _ in range(versions - 1):
        register_flow(client, caller, spec(python_node("only", OK)), flow_name=name)
    return name


def deploy(
    client: TestClient, caller: Caller, name: str, flow: str, env: str | None, **body: Any
) -> dict[str, Any]:
    payload = {"name": name, "flow_name": flow, "environment": env, **body}
    response = client.post("/v1/deployments", headers=caller.headers, json=payload)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def promote(client: TestClient, caller: Caller, **body: Any) -> Any:
    return client.post("/v1/environments/promote", headers=caller.headers, json=body)


def audit_of(
    client: TestClient, caller: Caller, resource_type: str, resource_id: str
) -> list[dict[str, Any]]:
    response = client.get(f"/v1/audit-logs/resource/{resource_type}/{resource_id}", headers=caller.headers)
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))


def test_create_get_patch_round_trip(client: TestClient, owner: Caller) -> None:
    name = env_name()
    created = create_env(
        client,
        owner,
        name,
        default_executor="local",
        config_json={"memory_limit": "4Gi", "timeout_seconds": 3600},
    )
    assert created["env_id"].startswith("env_") and created["env_name"] == name
    assert (created["default_executor"], created["is_protected"]) == ("local", False)
    assert created["created_at"].endswith("Z") and "config_json" not in created
    got = client.get(f"/v1/environments/{name}", headers=owner.headers).json()
    assert got["config_json"] == {"memory_limit": "4Gi", "timeout_seconds": 3600}
    patched = client.patch(f"/v1/environments/{name}", headers=owner.headers, json={"is_protected": True})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["is_protected"] is True and body["default_executor"] == "local"
    assert body["config_json"] == got["config_json"] and body["updated_at"] >= got["updated_at"]
    body = client.patch(
        f"/v1/environments/{name}",
        headers=owner.headers,
        json={"default_executor": None, "config_json": {"a": 1}},
    ).json()
    assert (body["default_executor"], body["config_json"], body["is_protected"]) == (None, {"a": 1}, True)
    assert client.get(f"/v1/environments/{name}", headers=owner.headers).json() == body


def test_create_rejects_duplicates_and_bad_configuration(client: TestClient, owner: Caller) -> None:
    name = create_env(client, owner)["env_name"]
    duplicate = client.post("/v1/environments", headers=owner.headers, json={"env_name": name})
    assert duplicate.status_code == 409 and duplicate.json()["details"] == {"env_name": "already exists"}
    bad = [
        ({"env_name": "Staging"}, "env_name"),
        ({"env_name": "-staging"}, "env_name"),
        ({"env_name": "a" * 65}, "env_name"),
        ({"env_name": env_name(), "default_executor": "tpu"}, "default_executor"),
        ({"env_name": env_name(), "config_json": [1]}, "config_json"),
        ({"env_name": env_name(), "config_json": {"x": "y" * 70_000}}, "config_json"),
        ({"env_name": env_name(), "variables": {}}, "variables"),
    ]
    for body, field in bad:
        response = client.post("/v1/environments", headers=owner.headers, json=body)
        assert response.status_code == 400 and field in response.json()["details"], (body, response.text)
    assert len(client.get("/v1/environments", headers=owner.headers).json()["items"]) == 1


def test_patch_rejects_nothing_null_and_unknown(client: TestClient, owner: Caller) -> None:
    name = create_env(client, owner)["env_name"]
    for body in ({}, {"is_protected": None}, {"default_executor": "tpu"}, {"env_name": "x"}):
        response = client.patch(f"/v1/environments/{name}", headers=owner.headers, json=body)
        assert response.status_code == 400, (body, response.text)
    missing = client.patch(
        f"/v1/environments/{unique('e')}", headers=owner.headers, json={"is_protected": True}
    )
    assert missing.status_code == 404
    assert client.get(f"/v1/environments/{unique('e')}", headers=owner.headers).status_code == 404


def test_list_is_in_promotion_order_and_pages(client: TestClient, owner: Caller) -> None:
    names = [create_env(client, owner, f"{letter}-{unique('e')}")["env_name"] for letter in "cab"]
    listed = client.get("/v1/environments", headers=owner.headers).json()
    assert [e["env_name"] for e in listed["items"]] == names  # creation appends to the order
    assert [e["promotion_order"] for e in listed["items"]] == [0, 1, 2]
    first = client.get("/v1/environments", headers=owner.headers, params={"limit": 2}).json()
    rest = client.get(
        "/v1/environments", headers=owner.headers, params={"limit": 2, "next_token": first["next_token"]}
    ).json()
    assert [e["env_name"] for e in first["items"] + rest["items"]] == names and rest["next_token"] is None
    assert client.get("/v1/environments", headers=owner.headers, params={"limit": 501}).status_code == 400


def test_reorder_sets_promotion_order(client: TestClient, owner: Caller) -> None:
    develop, staging, production, spare = (create_env(client, owner)["env_name"] for _ in range(4))
    response = client.put(
        "/v1/environments/reorder", headers=owner.headers, json={"order": [production, develop, staging]}
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(e["env_name"], e["promotion_order"]) for e in items] == [
        (production, 0),
        (develop, 1),
        (staging, 2),
        (spare, 3),  # not named: after the named ones
    ]
    listed = client.get("/v1/environments", headers=owner.headers).json()["items"]
    assert [e["env_name"] for e in listed] == [production, develop, staging, spare]
    unknown = client.put(
        "/v1/environments/reorder", headers=owner.headers, json={"order": [develop, "nowhere"]}
    )
    assert unknown.status_code == 400 and "nowhere" in unknown.json()["details"]["order"]
    twice = client.put("/v1/environments/reorder", headers=owner.headers, json={"order": [develop, develop]})
    assert twice.status_code == 400 and develop in twice.json()["details"]["order"]
    assert (
        client.put("/v1/environments/reorder", headers=owner.headers, json={"order": []}).status_code == 400
    )
    assert client.put("/v1/environments/reorder", headers=owner.headers, json={}).status_code == 400
    after = client.get("/v1/environments", headers=owner.headers).json()["items"]
    assert [e["env_name"] for e in after] == [production, develop, staging, spare]  # failures changed nothing


def test_reorder_and_promote_are_not_environment_names(client: TestClient, owner: Caller) -> None:
    create_env(client, owner, "reorder")
    create_env(client, owner, "promote")
    assert client.get("/v1/environments/reorder", headers=owner.headers).json()["env_name"] == "reorder"
    response = client.put("/v1/environments/reorder", headers=owner.headers, json={"order": ["promote"]})
    assert response.status_code == 200 and response.json()["items"][0]["env_name"] == "promote"
    missing = promote(client, owner, source_deployment=unique("d"), target_environment="promote")
    assert missing.status_code == 404 and "source_deployment" in missing.json()["details"]


def test_delete_refuses_protected_and_occupied_environments(client: TestClient, owner: Caller) -> None:
    production = create_env(client, owner, is_protected=True)["env_name"]
    refused = client.delete(f"/v1/environments/{production}", headers=owner.headers)
    assert refused.status_code == 404
    assert refused.json()["error"] == "protected_environment"
    assert refused.json()["message"] == f"Cannot delete protected environment '{production}'"
    occupied = create_env(client, owner)["env_name"]
    flow = new_flow(client, owner)
    names = sorted(deploy(client, owner, unique(f"d{i}"), flow, occupied)["name"] for i in range(2))
    conflict = client.delete(f"/v1/environments/{occupied}", headers=owner.headers)
    assert conflict.status_code == 409 and conflict.json()["details"] == {"deployments": ", ".join(names)}
    for name in names:
        client.delete(f"/v1/deployments/{name}", headers=owner.headers)
    deleted = client.delete(f"/v1/environments/{occupied}", headers=owner.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert client.get(f"/v1/environments/{occupied}", headers=owner.headers).status_code == 404
    assert client.delete(f"/v1/environments/{occupied}", headers=owner.headers).status_code == 404
    client.patch(f"/v1/environments/{production}", headers=owner.headers, json={"is_protected": False})
    assert client.delete(f"/v1/environments/{production}", headers=owner.headers).status_code == 204


def test_variables_replace_merge_and_delete(client: TestClient, owner: Caller) -> None:
    name = create_env(client, owner)["env_name"]
    path = f"/v1/environments/{name}/variables"
    assert client.get(path, headers=owner.headers).json() == {"env_name": name, "variables": {}}
    replaced = client.put(
        path, headers=owner.headers, json={"variables": {"DATABASE_URL": "pg://db", "LOG_LEVEL": "info"}}
    )
    assert replaced.status_code == 200
    assert replaced.json() == {
        "env_name": name,
        "variables": {"DATABASE_URL": "pg://db", "LOG_LEVEL": "info"},
    }
    merged = client.patch(
        path, headers=owner.headers, json={"variables": {"LOG_LEVEL": "debug", "NEW_VAR": "v"}}
    )
    assert merged.json()["variables"] == {"DATABASE_URL": "pg://db", "LOG_LEVEL": "debug", "NEW_VAR": "v"}
    again = client.put(path, headers=owner.headers, json={"variables": {"ONLY": "1"}})
    assert again.json()["variables"] == {"ONLY": "1"}
    deleted = client.delete(f"{path}/ONLY", headers=owner.headers)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": "ONLY", "env_name": name}
    assert client.get(path, headers=owner.headers).json()["variables"] == {}
    assert client.delete(f"{path}/ONLY", headers=owner.headers).status_code == 404
    assert client.get(f"/v1/environments/{unique('e')}/variables", headers=owner.headers).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"variables": ["a"]},
        {"variables": "a=b"},
        {"variables": {"A": 1}},
        {"variables": {"A": None}},
        {"variables": {"bad key": "x"}},
        {"variables": {"BIG": "x" * 70_000}},
        {},
        {"variables": {}, "extra": 1},
    ],
)
def test_variables_must_be_an_object_of_strings(
    client: TestClient, owner: Caller, body: dict[str, Any]
) -> None:
    name = create_env(client, owner)["env_name"]
    path = f"/v1/environments/{name}/variables"
    client.put(path, headers=owner.headers, json={"variables": {"KEEP": "me"}})
    for method in ("PUT", "PATCH"):
        response = client.request(method, path, headers=owner.headers, json=body)
        assert response.status_code == 400 and response.json()["error"] == "invalid_input", response.text
    assert client.get(path, headers=owner.headers).json()["variables"] == {"KEEP": "me"}


def test_merged_variables_stay_within_64_kb(client: TestClient, owner: Caller) -> None:
    name = create_env(client, owner)["env_name"]
    path = f"/v1/environments/{name}/variables"
    assert client.put(path, headers=owner.headers, json={"variables": {"A": "x" * 40_000}}).status_code == 200
    response = client.patch(path, headers=owner.headers, json={"variables": {"B": "y" * 40_000}})
    assert response.status_code == 400 and "variables" in response.json()["details"]
    assert list(client.get(path, headers=owner.headers).json()["variables"]) == ["A"]


def test_diff_matches_deployments_by_flow(client: TestClient, owner: Caller) -> None:
    staging, production = create_env(client, owner)["env_name"], create_env(client, owner)["env_name"]
    shared, new, old = new_flow(client, owner, 2), new_flow(client, owner), new_flow(client, owner)
    same = new_flow(client, owner)
    deploy(client, owner, f"{shared}-staging", shared, staging, flow_version="2")
    deploy(client, owner, f"{shared}-prod", shared, production, flow_version="1")
    deploy(client, owner, f"{new}-staging", new, staging)
    deploy(client, owner, f"{old}-prod", old, production)
    deploy(client, owner, f"{same}-staging", same, staging)
    deploy(client, owner, f"{same}-prod", same, production)
    response = client.get(f"/v1/environments/{staging}/diff/{production}", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["source_environment"], body["target_environment"]) == (staging, production)
    assert [(d["deployment_name"], d["flow_name"], d["flow_version"]) for d in body["only_in_source"]] == [
        (f"{new}-staging", new, "1")
    ]
    assert [d["deployment_name"] for d in body["only_in_target"]] == [f"{old}-prod"]
    [differs] = body["version_differs"]
    assert differs["flow_name"] == shared
    assert (differs["source"]["deployment_name"], differs["source"]["flow_version"]) == (
        f"{shared}-staging",
        "2",
    )
    assert (differs["target"]["deployment_name"], differs["target"]["flow_version"]) == (
        f"{shared}-prod",
        "1",
    )
    assert differs["source"]["updated_at"].endswith("Z")
    for path in (f"{staging}/diff/{unique('e')}", f"{unique('e')}/diff/{production}"):
        assert client.get(f"/v1/environments/{path}", headers=owner.headers).status_code == 404


def test_promote_creates_then_updates_the_target_deployment(client: TestClient, owner: Caller) -> None:
    staging, production = create_env(client, owner)["env_name"], create_env(client, owner)["env_name"]
    flow = new_flow(client, owner, 3)
    source = deploy(
        client,
        owner,
        f"{flow}-{staging}",
        flow,
        staging,
        flow_version="2",
        execution_mode="micro",
        tags=["x"],
    )
    response = promote(client, owner, source_deployment=source["name"], target_environment=production)
    assert response.status_code == 201, response.text
    body = response.json()
    target_name = f"{flow}-{production}"  # the environment suffix replaced
    assert (body["target_deployment"], body["flow_name"], body["flow_version"]) == (target_name, flow, "2")
    assert (body["target_environment"], body["source_deployment"], body["source_environment"]) == (
        production,
        source["name"],
        staging,
    )
    target = client.get(f"/v1/deployments/{target_name}", headers=owner.headers).json()
    assert (target["environment"], target["flow_version"], target["execution_mode"], target["tags"]) == (
        production,
        "2",
        "micro",
        {"x": ""},
    )
    assert (target["promoted_from_env"], target["promoted_from_deployment"]) == (staging, source["name"])
    assert target["promoted_at"] == body["promoted_at"]
    client.put(
        f"/v1/deployments/{target_name}/settings", headers=owner.headers, json={"execution_mode": "large"}
    )
    again = promote(
        client, owner, source_deployment=source["name"], target_environment=production, flow_version=3
    )
    assert again.status_code == 201 and again.json()["target_deployment"] == target_name
    moved = client.get(f"/v1/deployments/{target_name}", headers=owner.headers).json()
    assert (moved["deployment_id"], moved["flow_version"]) == (target["deployment_id"], "3")
    assert moved["execution_mode"] == "large"  # the target's own settings stay
    listed = client.get("/v1/deployments", headers=owner.headers, params={"environment": production}).json()
    assert [d["promoted_from_deployment"] for d in listed["items"]] == [source["name"]]


def test_promote_names_and_overrides(client: TestClient, owner: Caller) -> None:
    develop, staging = create_env(client, owner)["env_name"], create_env(client, owner)["env_name"]
    flow = new_flow(client, owner, 2)
    source = deploy(client, owner, unique("plain"), flow, develop, flow_version="1")["name"]
    named = promote(client, owner, source_deployment=source, target_environment=staging)
    assert named.json()["target_deployment"] == f"{flow}-{staging}"  # no suffix to replace: <flow>-<env>
    custom = unique("custom")
    body = promote(
        client,
        owner,
        source_deployment=source,
        target_environment=staging,
        new_deployment_name=custom,
        flow_version="2",
    ).json()
    assert (body["target_deployment"], body["flow_version"]) == (custom, "2")
    loose = deploy(client, owner, unique("loose"), flow, None)["name"]  # no environment at all
    from_nowhere = promote(client, owner, source_deployment=loose, target_environment=develop).json()
    assert (
        from_nowhere["source_environment"] is None
        and from_nowhere["target_deployment"] == f"{flow}-{develop}"
    )


def test_failed_promotions_leave_nothing_behind(client: TestClient, owner: Caller) -> None:
    staging, production = create_env(client, owner)["env_name"], create_env(client, owner)["env_name"]
    flow, other = new_flow(client, owner), new_flow(client, owner)
    source = deploy(client, owner, f"{flow}-{staging}", flow, staging)["name"]
    elsewhere = deploy(client, owner, unique("elsewhere"), flow, staging)["name"]
    foreign = deploy(client, owner, unique("foreign"), other, production)["name"]
    before = client.get("/v1/deployments", headers=owner.headers).json()["items"]
    cases = [
        ({"source_deployment": unique("nope"), "target_environment": production}, 404, "source_deployment"),
        ({"source_deployment": source, "target_environment": "nowhere"}, 404, "target_environment"),
        (
            {"source_deployment": source, "target_environment": production, "flow_version": "9"},
            404,
            "flow_version",
        ),
        ({"source_deployment": source, "target_environment": staging}, 400, "target_environment"),
        (
            {"source_deployment": source, "target_environment": production, "new_deployment_name": elsewhere},
            409,
            "new_deployment_name",
        ),
        (
            {"source_deployment": source, "target_environment": production, "new_deployment_name": foreign},
            409,
            "new_deployment_name",
        ),
        ({"source_deployment": source}, 400, "target_environment"),
        (
            {
                "source_deployment": source,
                "target_environment": production,
                "new_deployment_name": "bad name",
            },
            400,
            "new_deployment_name",
        ),
    ]
    for body, status, field in cases:
        response = promote(client, owner, **body)
        assert response.status_code == status and field in response.json()["details"], (body, response.text)
    assert client.get("/v1/deployments", headers=owner.headers).json()["items"] == before


def test_promotion_into_a_protected_environment_is_marked_in_the_audit(
    client: TestClient, owner: Caller
) -> None:
    staging = create_env(client, owner)["env_name"]
    production = create_env(client, owner, is_protected=True)["env_name"]
    flow = new_flow(client, owner)
    source = deploy(client, owner, f"{flow}-{staging}", flow, staging)["name"]
    body = promote(client, owner, source_deployment=source, target_environment=production).json()
    [row] = audit_of(client, owner, "deployment", body["deployment_id"])
    assert row["action"] == "create"
    assert row["changes"]["promotion"] == [staging, production]
    assert row["changes"]["promoted_into_protected_environment"] == [None, production]
    assert row["changes"]["promoted_from_deployment"] == [None, source]


def test_environment_changes_are_audited_without_variable_values(client: TestClient, owner: Caller) -> None:
    created = create_env(client, owner, default_executor="local")
    name, env_id = created["env_name"], created["env_id"]
    client.patch(f"/v1/environments/{name}", headers=owner.headers, json={"is_protected": True})
    path = f"/v1/environments/{name}/variables"
    client.put(path, headers=owner.headers, json={"variables": {"API_KEY": "sk-secret-1", "KEEP": "k"}})
    client.patch(path, headers=owner.headers, json={"variables": {"API_KEY": "sk-secret-2"}})
    client.delete(f"{path}/KEEP", headers=owner.headers)
    client.patch(f"/v1/environments/{name}", headers=owner.headers, json={"is_protected": False})
    client.delete(f"/v1/environments/{name}", headers=owner.headers)
    rows = audit_of(client, owner, "environment", env_id)
    assert [r["action"] for r in rows] == [
        "create",
        "update",
        "update",
        "update",
        "update",
        "update",
        "delete",
    ]
    assert rows[0]["changes"]["default_executor"] == [None, "local"]
    assert rows[1]["changes"] == {"is_protected": [False, True]}
    assert rows[2]["changes"] == {"variables.API_KEY": [None, "set"], "variables.KEEP": [None, "set"]}
    assert rows[3]["changes"] == {"variables.API_KEY": "value changed"}
    assert rows[4]["changes"] == {"variables.KEEP": ["set", None]}
    assert "sk-secret" not in str(rows)


def test_roles_environments_read_and_write(app: FastAPI, client: TestClient, owner: Caller) -> None:
    name = create_env(client, owner)["env_name"]
    for role in ("developer", "viewer"):
        caller = add_member(app, client, owner, role)
        assert client.get(f"/v1/environments/{name}", headers=caller.headers).status_code == 200
        assert client.get(f"/v1/environments/{name}/variables", headers=caller.headers).status_code == 200
        for method, path, body in _writes(name, "d"):
            response = client.request(method, path, headers=caller.headers, json=body)
            assert response.status_code == 403 and response.json()["error"] == "forbidden", (
                role,
                method,
                path,
            )
    admin = add_member(app, client, owner, "admin")
    assert (
        client.patch(
            f"/v1/environments/{name}", headers=admin.headers, json={"is_protected": True}
        ).status_code
        == 200
    )


def _writes(name: str, deployment: str) -> list[tuple[str, str, Any]]:
    return [
        ("POST", "/v1/environments", {"env_name": unique("e")}),
        ("PATCH", f"/v1/environments/{name}", {"is_protected": True}),
        ("DELETE", f"/v1/environments/{name}", None),
        ("PUT", f"/v1/environments/{name}/variables", {"variables": {"A": "1"}}),
        ("PATCH", f"/v1/environments/{name}/variables", {"variables": {"A": "1"}}),
        ("DELETE", f"/v1/environments/{name}/variables/A", None),
        ("PUT", "/v1/environments/reorder", {"order": [name]}),
        ("POST", "/v1/environments/promote", {"source_deployment": deployment, "target_environment": name}),
    ]


def test_another_orgs_environments_are_404_on_every_route(
    app: FastAPI, client: TestClient, owner: Caller
) -> None:
    theirs = new_org(app, client)
    name = create_env(client, theirs)["env_name"]
    other = create_env(client, theirs)["env_name"]
    client.put(f"/v1/environments/{name}/variables", headers=theirs.headers, json={"variables": {"A": "1"}})
    flow = new_flow(client, theirs)
    deployment = deploy(client, theirs, unique("d"), flow, name)["name"]
    reads = [
        ("GET", f"/v1/environments/{name}", None),
        ("GET", f"/v1/environments/{name}/variables", None),
        ("GET", f"/v1/environments/{name}/diff/{other}", None),
    ]
    for method, path, body in reads + _writes(name, deployment)[1:6]:
        response = client.request(method, path, headers=owner.headers, json=body)
        assert response.status_code == 404, (method, path, response.text)
    mine = create_env(client, owner)["env_name"]
    assert promote(client, owner, source_deployment=deployment, target_environment=mine).status_code == 404
    my_flow = new_flow(client, owner)
    my_deployment = deploy(client, owner, unique("d"), my_flow, mine)["name"]
    assert (
        promote(client, owner, source_deployment=my_deployment, target_environment=other).status_code == 404
    )
    reorder = client.put("/v1/environments/reorder", headers=owner.headers, json={"order": [name]})
    assert reorder.status_code == 400
    assert [e["env_name"] for e in client.get("/v1/environments", headers=owner.headers).json()["items"]] == [
        mine
    ]
    assert create_env(client, owner, name)["env_name"] == name  # names are per org
    theirs_now = client.get(f"/v1/environments/{name}/variables", headers=theirs.headers).json()
    assert theirs_now["variables"] == {"A": "1"}
