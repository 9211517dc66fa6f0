"""`/audit-logs`: rows the services write, every filter, keyset pages, isolation, permissions."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import Caller, add_member, new_org, unique, unique_email

CLIENT_IP = "198.51.100.7"


def _logs(client: TestClient, caller: Caller, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/audit-logs", params={"limit": 100, **params}, headers=caller.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _create_key(client: TestClient, caller: Caller, name: str | None = None) -> dict[str, Any]:
    response = client.post(
        "/v1/api-keys", json={"name": name or unique("key"), "scopes": ["runs.read"]}, headers=caller.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_org_creation_is_recorded_with_ip_and_user_agent(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    name = unique("acme")
    created = client.post(
        "/v1/orgs",
        json={"org_name": name, "plan": "professional"},
        headers=owner.headers | {"User-Agent": "dagy-tests/1.0"},
    )
    assert created.status_code == 201
    org_id = created.json()["org_id"]
    in_new_org = Caller(email=owner.email, org_id=org_id, token=owner.token, role="owner")
    (row,) = _logs(client, in_new_org, resource_type="org")
    assert row["action"] == "create"
    assert row["resource_id"] == org_id
    assert row["resource_name"] == name
    assert row["changes"] == {"plan": [None, "professional"]}
    assert row["actor_email"] == owner.email
    assert row["ip_address"] == CLIENT_IP
    assert row["user_agent"] == "dagy-tests/1.0"
    assert row["audit_id"].startswith("audit_")
    assert row["timestamp"].endswith("Z")
    assert set(row) == {
        "audit_id",
        "timestamp",
        "actor_email",
        "action",
        "resource_type",
        "resource_id",
        "resource_name",
        "changes",
        "ip_address",
        "user_agent",
    }


def test_member_invite_and_role_change_are_recorded(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    email = unique_email("dev")
    invited = client.post(
        f"/v1/orgs/{owner.org_id}/members", json={"email": email, "role": "developer"}, headers=owner.headers
    )
    assert invited.status_code == 201
    member_id = invited.json()["member_id"]
    changed = client.patch(
        f"/v1/orgs/{owner.org_id}/members/{email}/role", json={"role": "admin"}, headers=owner.headers
    )
    assert changed.status_code == 200

    update, create = _logs(client, owner, resource_type="member", actor_email=owner.email)
    assert create["action"] == "create"
    assert create["resource_id"] == member_id
    assert create["changes"] == {"role": [None, "developer"], "status": [None, "invited"]}
    assert update["action"] == "update"
    assert update["changes"] == {"role": ["developer", "admin"]}
    assert update["resource_name"] == email
    for row in (create, update):
        assert row["ip_address"] == CLIENT_IP
        assert row["user_agent"] == "testclient"

    trail = client.get(f"/v1/audit-logs/resource/member/{member_id}", headers=owner.headers)
    assert trail.status_code == 200
    body = trail.json()
    assert body["resource_id"] == member_id
    assert body["resource_type"] == "member"
    assert body["resource_name"] == email
    assert [i["action"] for i in body["items"]] == ["update", "create"]
    assert set(body["items"][0]) == {"audit_id", "timestamp", "actor_email", "action", "changes"}
    assert body["items"][0]["changes"] == {"role": ["developer", "admin"]}


def test_api_key_create_and_delete_are_recorded_without_the_key(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    key = _create_key(client, owner, name="ci")
    assert client.delete(f"/v1/api-keys/{key['key_id']}", headers=owner.headers).status_code == 204
    deleted, created = _logs(client, owner, resource_type="api_key")
    assert created["action"] == "create"
    assert created["changes"] == {
        "name": [None, "ci"],
        "environment": [None, "live"],
        "scopes": [None, ["runs.read"]],
    }
    assert deleted["action"] == "delete"
    assert deleted["changes"] == {
        "name": ["ci", None],
        "environment": ["live", None],
        "scopes": [["runs.read"], None],
    }
    assert {created["resource_id"], deleted["resource_id"]} == {key["key_id"]}
    assert key["key"] not in str(created) + str(deleted)
    trail = client.get(f"/v1/audit-logs/resource/api_key/{key['key_id']}", headers=owner.headers).json()
    assert trail["resource_name"] == "ci"
    assert [i["action"] for i in trail["items"]] == ["delete", "create"]


def test_filters(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    admin = add_member(app, client, owner, "admin")
    first = _create_key(client, owner)
    second = _create_key(client, admin)
    assert client.delete(f"/v1/api-keys/{first['key_id']}", headers=admin.headers).status_code == 204

    everything = _logs(client, owner)
    assert [r["resource_type"] for r in everything] == ["api_key", "api_key", "api_key", "member", "org"]
    assert [r["resource_id"] for r in _logs(client, owner, action="delete")] == [first["key_id"]]
    assert {r["resource_type"] for r in _logs(client, owner, resource_type="api_key")} == {"api_key"}
    by_admin = _logs(client, owner, actor_email=admin.email.upper())
    assert [(r["action"], r["resource_id"]) for r in by_admin] == [
        ("delete", first["key_id"]),
        ("create", second["key_id"]),
    ]
    assert _logs(client, owner, action="create", actor_email=admin.email) == by_admin[1:]
    assert _logs(client, owner, resource_type="flow") == []

    middle = everything[2]["timestamp"]
    since = _logs(client, owner, start_date=middle)
    until = _logs(client, owner, end_date=middle)
    assert [r["audit_id"] for r in since] == [r["audit_id"] for r in everything[:3]]
    assert [r["audit_id"] for r in until] == [r["audit_id"] for r in everything[2:]]
    exact = _logs(client, owner, start_date=middle, end_date=middle)
    assert [r["audit_id"] for r in exact] == [everything[2]["audit_id"]]
    naive = middle.removesuffix("Z")
    assert _logs(client, owner, start_date=naive, end_date=naive) == exact
    assert _logs(client, owner, end_date="2000-01-01") == []
    assert len(_logs(client, owner, start_date="2000-01-01")) == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2026-13-01"}, "end_date"),
        ({"start_date": "1700000000"}, "start_date"),
        ({"start_date": "2026-03-02T00:00:00Z", "end_date": "2026-03-01T00:00:00Z"}, "start_date"),
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"next_token": "not-a-token"}, "next_token"),
        ({"action": "x" * 33}, "action"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_field(
    app: FastAPI, client: TestClient, params: dict[str, Any], field: str
) -> None:
    owner = new_org(app, client)
    response = client.get("/v1/audit-logs", params=params, headers=owner.headers)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_input"
    assert field in body["details"], body


def test_pages_cover_every_row_once_newest_first(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    for _ in range(8):
        _create_key(client, owner)
    expected = [r["audit_id"] for r in _logs(client, owner)]
    assert len(expected) == 9

    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 4} | ({"next_token": token} if token else {})
        response = client.get("/v1/audit-logs", params=params, headers=owner.headers)
        assert response.status_code == 200
        page = response.json()
        assert len(page["items"]) <= 4
        seen += [r["audit_id"] for r in page["items"]]
        pages += 1
        token = page["next_token"]
        if token is None:
            break
    assert pages == 3
    assert seen == expected
    timestamps = [r["timestamp"] for r in _logs(client, owner)]
    assert timestamps == sorted(timestamps, reverse=True)


def test_default_limit_is_20(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    for _ in range(21):
        _create_key(client, owner)
    page = client.get("/v1/audit-logs", headers=owner.headers).json()
    assert len(page["items"]) == 20
    assert page["next_token"] is not None
    rest = client.get(
        "/v1/audit-logs", params={"next_token": page["next_token"]}, headers=owner.headers
    ).json()
    assert len(rest["items"]) == 2
    assert rest["next_token"] is None


def test_resource_trail_pages(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    email = unique_email("dev")
    member_id = client.post(
        f"/v1/orgs/{owner.org_id}/members", json={"email": email, "role": "viewer"}, headers=owner.headers
    ).json()["member_id"]
    for role in ("developer", "admin", "viewer"):
        client.patch(
            f"/v1/orgs/{owner.org_id}/members/{email}/role", json={"role": role}, headers=owner.headers
        )
    url = f"/v1/audit-logs/resource/member/{member_id}"
    first = client.get(url, params={"limit": 3}, headers=owner.headers).json()
    assert len(first["items"]) == 3
    second = client.get(
        url, params={"limit": 3, "next_token": first["next_token"]}, headers=owner.headers
    ).json()
    assert [i["action"] for i in second["items"]] == ["create"]
    assert second["next_token"] is None
    assert second["resource_name"] == email


def test_logs_are_isolated_by_org(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    other = new_org(app, client)
    key = _create_key(client, owner)
    theirs = _logs(client, other)
    assert [r["resource_type"] for r in theirs] == ["org"]
    assert theirs[0]["resource_id"] == other.org_id
    assert _logs(client, other, resource_type="api_key") == []
    foreign = client.get(f"/v1/audit-logs/resource/api_key/{key['key_id']}", headers=other.headers)
    assert foreign.status_code == 404
    assert foreign.json()["error"] == "not_found"
    foreign_org = client.get(f"/v1/audit-logs/resource/org/{owner.org_id}", headers=other.headers)
    assert foreign_org.status_code == 404
    assert client.get(f"/v1/audit-logs/resource/org/{owner.org_id}", headers=owner.headers).status_code == 200


def test_unknown_resource_is_404(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    response = client.get("/v1/audit-logs/resource/flow/flow_nothing", headers=owner.headers)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("role", ["viewer", "developer"])
def test_roles_without_admin_audit_get_403(app: FastAPI, client: TestClient, role: str) -> None:
    owner = new_org(app, client)
    member = add_member(app, client, owner, role)
    for url in ("/v1/audit-logs", f"/v1/audit-logs/resource/org/{owner.org_id}"):
        response = client.get(url, headers=member.headers)
        assert response.status_code == 403
        assert response.json()["details"] == {"required_permission": "admin.audit"}


def test_admin_may_read_the_trail(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    admin = add_member(app, client, owner, "admin")
    assert len(_logs(client, admin)) == 2


def test_audit_logs_require_authentication(client: TestClient) -> None:
    assert client.get("/v1/audit-logs").status_code == 401
    assert client.get("/v1/audit-logs/resource/org/org_x").status_code == 401
