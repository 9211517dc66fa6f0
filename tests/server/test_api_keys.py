"""`/api-keys`: minting, authenticating with a key, scopes, deletion, and what is never stored."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from dagy.server.app import create_app
from dagy.server.db.base import utcnow
from dagy.server.db.models import ApiKey, AuditLog
from dagy.server.settings import Settings
from tests.factories import Caller, add_member, new_org, unique

KEY_FORMAT = re.compile(r"^dagy_sk_([a-z0-9]{1,16})_([A-Za-z0-9]{32,})$")


def _create(client: TestClient, caller: Caller, scopes: list[str], **extra: object) -> dict[str, object]:
    response = client.post(
        "/v1/api-keys", json={"name": unique("key"), "scopes": scopes, **extra}, headers=caller.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _key_headers(key: object, org_id: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}"}
    if org_id is not None:
        headers["X-Org-Id"] = org_id
    return headers


def test_create_returns_the_full_key_once_in_the_documented_format(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    name = unique("etl")
    response = client.post(
        "/v1/api-keys",
        json={"name": name, "scopes": ["flows.read", "runs.read", "flows.read"]},
        headers=owner.headers,
    )
    assert response.status_code == 201
    body = response.json()
    match = KEY_FORMAT.match(body["key"])
    assert match is not None, body["key"]
    assert match.group(1) == "live"
    assert body["key_prefix"] == f"dagy_sk_live_{match.group(2)[:4]}***"
    assert body["name"] == name
    assert body["scopes"] == ["flows.read", "runs.read"]
    assert body["key_id"].startswith("key_")
    assert body["created_at"].endswith("Z")

    listed = client.get("/v1/api-keys", headers=owner.headers).json()["items"]
    assert [k["key_id"] for k in listed] == [body["key_id"]]
    assert "key" not in listed[0]
    assert listed[0]["key_prefix"] == body["key_prefix"]
    assert listed[0]["last_used_at"] is None
    assert body["key"] not in client.get("/v1/api-keys", headers=owner.headers).text


def test_environment_is_written_into_the_key(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    body = _create(client, owner, ["runs.read"], environment="prod")
    assert str(body["key"]).startswith("dagy_sk_prod_")
    assert str(body["key_prefix"]).startswith("dagy_sk_prod_")
    assert body["environment"] == "prod"


@pytest.mark.parametrize("environment", ["", "PROD", "pro-d", "x" * 17])
def test_environment_must_be_short_lowercase_alphanumerics(
    app: FastAPI, client: TestClient, environment: str
) -> None:
    owner = new_org(app, client)
    response = client.post(
        "/v1/api-keys",
        json={"name": "k", "scopes": ["runs.read"], "environment": environment},
        headers=owner.headers,
    )
    assert response.status_code == 400
    assert "environment" in response.json()["details"]


def test_the_key_authenticates_in_its_own_org_only(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    other = new_org(app, client)
    key = _create(client, owner, ["runs.read"])["key"]
    me = client.get("/v1/me", headers=_key_headers(key))
    assert me.status_code == 200
    assert me.json() == {"user_email": owner.email, "org_id": owner.org_id, "role": "owner"}
    assert client.get("/v1/me", headers=_key_headers(key, owner.org_id)).status_code == 200
    foreign = client.get("/v1/me", headers=_key_headers(key, other.org_id))
    assert foreign.status_code == 403
    assert foreign.json()["error"] == "forbidden"


def test_a_key_acts_only_within_its_scopes(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    key = _create(client, owner, ["runs.read"])["key"]
    mint = client.post("/v1/api-keys", json={"name": "k", "scopes": ["runs.read"]}, headers=_key_headers(key))
    assert mint.status_code == 403
    assert mint.json()["details"] == {"required_permission": "admin.api_keys"}
    members = client.get(f"/v1/orgs/{owner.org_id}/members", headers=_key_headers(key))
    assert members.status_code == 403
    assert client.get("/v1/api-keys", headers=_key_headers(key)).status_code == 403


def test_a_key_loses_scopes_its_creator_loses(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    admin = add_member(app, client, owner, "admin")
    key = _create(client, admin, ["admin.members", "admin.api_keys", "runs.read"])["key"]
    assert client.get(f"/v1/orgs/{owner.org_id}/members", headers=_key_headers(key)).status_code == 200
    assert client.get("/v1/api-keys", headers=_key_headers(key)).status_code == 200

    demoted = client.patch(
        f"/v1/orgs/{owner.org_id}/members/{admin.email}/role", json={"role": "viewer"}, headers=owner.headers
    )
    assert demoted.status_code == 200
    assert client.get(f"/v1/orgs/{owner.org_id}/members", headers=_key_headers(key)).status_code == 403
    assert client.get("/v1/api-keys", headers=_key_headers(key)).status_code == 403
    assert client.get("/v1/me", headers=_key_headers(key)).json()["role"] == "viewer"


def test_an_api_key_cannot_mint_keys(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    key = _create(client, owner, ["admin.api_keys", "runs.read"])["key"]
    assert client.get("/v1/api-keys", headers=_key_headers(key)).status_code == 200
    response = client.post(
        "/v1/api-keys", json={"name": "child", "scopes": ["runs.read"]}, headers=_key_headers(key)
    )
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_last_used_at_is_set_when_the_key_is_used(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    created = _create(client, owner, ["runs.read"])
    before = utcnow() - timedelta(seconds=1)
    assert client.get("/v1/me", headers=_key_headers(created["key"])).status_code == 200
    listed = client.get("/v1/api-keys", headers=owner.headers).json()["items"]
    (item,) = [k for k in listed if k["key_id"] == created["key_id"]]
    assert item["last_used_at"] is not None
    assert item["last_used_at"] >= before.isoformat().replace("+00:00", "Z")


def test_last_used_at_is_written_at_most_once_a_minute(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    created = _create(client, owner, ["runs.read"])
    recent = utcnow() - timedelta(seconds=10)
    with app.state.db.transaction(write=True) as session:
        session.execute(update(ApiKey).where(ApiKey.id == created["key_id"]).values(last_used_at=recent))
    assert client.get("/v1/me", headers=_key_headers(created["key"])).status_code == 200
    with app.state.db.transaction(write=False) as session:
        stored = session.get(ApiKey, created["key_id"])
        assert stored is not None and stored.last_used_at == recent


def test_a_deleted_key_stops_working_at_once(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    created = _create(client, owner, ["runs.read"])
    assert client.get("/v1/me", headers=_key_headers(created["key"])).status_code == 200
    deleted = client.delete(f"/v1/api-keys/{created['key_id']}", headers=owner.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    after = client.get("/v1/me", headers=_key_headers(created["key"]))
    assert after.status_code == 401
    assert after.json()["error"] == "unauthorized"
    assert client.get("/v1/api-keys", headers=owner.headers).json()["items"] == []
    assert client.delete(f"/v1/api-keys/{created['key_id']}", headers=owner.headers).status_code == 404


def test_deleting_a_key_drops_it_from_a_warm_principal_cache(settings: Settings) -> None:
    """With the principal cache on (as in production), deletion still takes effect immediately."""
    cached_app = create_app(settings.model_copy(update={"auth_cache_seconds": 60}), migrate=False)
    with TestClient(cached_app, client=("198.51.100.7", 50000)) as cached:
        owner = new_org(cached_app, cached)
        created = _create(cached, owner, ["runs.read"])
        assert cached.get("/v1/me", headers=_key_headers(created["key"])).status_code == 200
        assert cached.delete(f"/v1/api-keys/{created['key_id']}", headers=owner.headers).status_code == 204
        assert cached.get("/v1/me", headers=_key_headers(created["key"])).status_code == 401


@pytest.mark.parametrize(
    "scopes",
    [[], ["flows.fly"], ["runs.read", "admin.everything"], ["RUNS.READ"], [""]],
)
def test_invalid_scopes_are_400_naming_scopes(app: FastAPI, client: TestClient, scopes: list[str]) -> None:
    owner = new_org(app, client)
    response = client.post("/v1/api-keys", json={"name": "k", "scopes": scopes}, headers=owner.headers)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_input"
    assert any(field.startswith("scopes") for field in body["details"]), body


@pytest.mark.parametrize(
    "body",
    [
        {"scopes": ["runs.read"]},
        {"name": "", "scopes": ["runs.read"]},
        {"name": "k", "scopes": ["runs.read"], "x": 1},
    ],
)
def test_invalid_bodies_are_400(app: FastAPI, client: TestClient, body: dict[str, object]) -> None:
    owner = new_org(app, client)
    response = client.post("/v1/api-keys", json=body, headers=owner.headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_input"


def test_a_caller_cannot_grant_scopes_it_does_not_hold(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    admin = add_member(app, client, owner, "admin")
    response = client.post(
        "/v1/api-keys", json={"name": "k", "scopes": ["runs.read", "billing.write"]}, headers=admin.headers
    )
    assert response.status_code == 403
    assert "billing.write" in response.json()["details"]["scopes"]
    assert client.get("/v1/api-keys", headers=owner.headers).json()["items"] == []


@pytest.mark.parametrize("role", ["viewer", "developer"])
def test_roles_without_admin_api_keys_get_403(app: FastAPI, client: TestClient, role: str) -> None:
    owner = new_org(app, client)
    created = _create(client, owner, ["runs.read"])
    member = add_member(app, client, owner, role)
    for response in (
        client.post("/v1/api-keys", json={"name": "k", "scopes": ["runs.read"]}, headers=member.headers),
        client.get("/v1/api-keys", headers=member.headers),
        client.delete(f"/v1/api-keys/{created['key_id']}", headers=member.headers),
    ):
        assert response.status_code == 403
        assert response.json()["details"] == {"required_permission": "admin.api_keys"}


def test_api_keys_require_authentication(client: TestClient) -> None:
    assert client.get("/v1/api-keys").status_code == 401
    assert client.post("/v1/api-keys", json={"name": "k", "scopes": ["runs.read"]}).status_code == 401
    assert client.get("/v1/me", headers=_key_headers("dagy_sk_live_" + "A" * 40)).status_code == 401


def test_another_orgs_key_is_invisible(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    other = new_org(app, client)
    created = _create(client, owner, ["runs.read"])
    assert client.get("/v1/api-keys", headers=other.headers).json()["items"] == []
    response = client.delete(f"/v1/api-keys/{created['key_id']}", headers=other.headers)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert client.delete("/v1/api-keys/key_doesnotexist", headers=other.headers).status_code == 404
    assert client.get("/v1/me", headers=_key_headers(created["key"])).status_code == 200


def test_list_paginates(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    ids = {str(_create(client, owner, ["runs.read"])["key_id"]) for _ in range(5)}
    seen: list[str] = []
    token = None
    while True:
        params = {"limit": 2} | ({"next_token": token} if token else {})
        page = client.get("/v1/api-keys", params=params, headers=owner.headers).json()
        seen += [k["key_id"] for k in page["items"]]
        token = page["next_token"]
        if token is None:
            break
    assert len(seen) == 5
    assert set(seen) == ids


def test_the_key_is_stored_only_as_a_hash(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    created = _create(client, owner, ["runs.read"])
    key = str(created["key"])
    assert client.delete(f"/v1/api-keys/{created['key_id']}", headers=owner.headers).status_code == 204
    kept = _create(client, owner, ["runs.read"])
    with app.state.db.transaction(write=False) as session:
        dumped = " ".join(str(value) for row in session.execute(select(ApiKey.__table__)) for value in row)
        audit = session.execute(select(AuditLog).where(AuditLog.org_id == owner.org_id)).scalars().all()
        audit_dump = " ".join(str(row.changes) + str(row.resource_name) for row in audit)
    assert kept["key_id"] in dumped
    for full in (key, str(kept["key"])):
        assert full not in dumped
        assert full.rsplit("_", 1)[1] not in dumped
    assert key not in audit_dump
    assert str(kept["key"]) not in audit_dump
