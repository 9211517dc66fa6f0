"""`/orgs`, members, roles: the reference's fields and every documented status code."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dagy.server.app import create_app
from dagy.server.db.models import AuditLog, Org
from dagy.server.rbac import ROLE_PERMISSIONS
from dagy.server.settings import Settings
from tests.factories import add_member, new_org, unique, unique_email


@pytest.mark.parametrize(
    ("fields", "plan"),
    [
        ({}, "enterprise"),  # self-hosted: no billing, no run quota
        ({"stripe_api_key": "sk_test_local"}, "free"),  # billing configured: paid plans are bought
        ({"default_plan": "professional"}, "professional"),
    ],
)
def test_an_org_created_without_a_plan_gets_the_installations_default(
    settings: Settings, fields: dict[str, str], plan: str
) -> None:
    app = create_app(settings.model_copy(update=fields), migrate=False)
    with TestClient(app) as client:
        owner = new_org(app, client)
        created = client.post("/v1/orgs", json={"org_name": unique("acme")}, headers=owner.headers)
        assert created.status_code == 201, created.text
        assert created.json()["plan"] == plan


def test_create_org_makes_the_caller_owner(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    name = unique("acme")
    created = client.post("/v1/orgs", json={"org_name": name, "plan": "professional"}, headers=owner.headers)
    assert created.status_code == 201
    body = created.json()
    assert body["org_name"] == name
    assert body["plan"] == "professional"
    assert body["owner_email"] == owner.email
    assert body["org_id"].startswith("org_")
    listed = client.get("/v1/orgs", headers=owner.headers).json()["items"]
    mine = {o["org_id"]: o for o in listed}
    assert mine[body["org_id"]]["role"] == "owner"
    assert mine[owner.org_id]["role"] == "owner"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"org_name": ""}, "org_name"),
        ({"org_name": "x" * 129}, "org_name"),
        ({"org_name": "bad\nname"}, "org_name"),
        ({"org_name": "ok", "plan": "platinum"}, "plan"),
        ({"org_name": "ok", "unknown": True}, "unknown"),
    ],
)
def test_create_org_rejects_bad_input(
    app: FastAPI, client: TestClient, body: dict[str, object], field: str
) -> None:
    owner = new_org(app, client)
    response = client.post("/v1/orgs", json=body, headers=owner.headers)
    assert response.status_code == 400
    assert field in response.json()["details"]


def test_duplicate_org_name_is_409_and_writes_nothing(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    name = unique("dup")
    assert client.post("/v1/orgs", json={"org_name": name}, headers=owner.headers).status_code == 201
    again = client.post("/v1/orgs", json={"org_name": name}, headers=owner.headers)
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    with app.state.db.transaction(write=False) as session:
        assert len(session.execute(select(Org).where(Org.name == name)).all()) == 1


def test_orgs_require_authentication(client: TestClient) -> None:
    assert client.get("/v1/orgs").status_code == 401
    assert client.post("/v1/orgs", json={"org_name": "x"}).status_code == 401


def test_members_lifecycle(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    email = unique_email("dev")
    created = client.post(
        f"/v1/orgs/{owner.org_id}/members", json={"email": email, "role": "developer"}, headers=owner.headers
    )
    assert created.status_code == 201
    member = created.json()
    assert member["email"] == email and member["role"] == "developer" and member["status"] == "invited"
    assert member["member_id"].startswith("member_")
    assert member["invitation_token"] is None  # email mode: the invitee signs in with the email
    duplicate = client.post(
        f"/v1/orgs/{owner.org_id}/members",
        json={"email": email.upper(), "role": "viewer"},
        headers=owner.headers,
    )
    assert duplicate.status_code == 409
    updated = client.patch(
        f"/v1/orgs/{owner.org_id}/members/{email}/role", json={"role": "admin"}, headers=owner.headers
    )
    assert updated.status_code == 200
    assert updated.json()["role"] == "admin"
    listed = client.get(f"/v1/orgs/{owner.org_id}/members", headers=owner.headers).json()["items"]
    assert {m["email"]: m["role"] for m in listed} == {owner.email: "owner", email: "admin"}
    with app.state.db.transaction(write=False) as session:
        rows = (
            session.execute(
                select(AuditLog).where(AuditLog.org_id == owner.org_id, AuditLog.resource_type == "member")
            )
            .scalars()
            .all()
        )
    assert sorted(r.action for r in rows) == ["create", "update"]
    update = next(r for r in rows if r.action == "update")
    assert update.changes == {"role": ["developer", "admin"]}
    assert update.actor_email == owner.email
    assert update.ip_address == "198.51.100.7"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "nope", "role": "viewer"}, "email"),
        ({"email": "a@example.com", "role": "superuser"}, "role"),
    ],
)
def test_add_member_rejects_bad_input(
    app: FastAPI, client: TestClient, body: dict[str, str], field: str
) -> None:
    owner = new_org(app, client)
    response = client.post(f"/v1/orgs/{owner.org_id}/members", json=body, headers=owner.headers)
    assert response.status_code == 400
    assert field in response.json()["details"]


def test_role_update_errors(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    base = f"/v1/orgs/{owner.org_id}/members"
    assert (
        client.patch(
            f"{base}/{unique_email()}/role", json={"role": "admin"}, headers=owner.headers
        ).status_code
        == 404
    )
    assert (
        client.patch(f"{base}/{owner.email}/role", json={"role": "boss"}, headers=owner.headers).status_code
        == 400
    )
    last_owner = client.patch(f"{base}/{owner.email}/role", json={"role": "admin"}, headers=owner.headers)
    assert last_owner.status_code == 400


def test_only_owners_grant_owner(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    admin = add_member(app, client, owner, "admin")
    base = f"/v1/orgs/{owner.org_id}/members"
    grant = client.post(base, json={"email": unique_email(), "role": "owner"}, headers=admin.headers)
    assert grant.status_code == 403
    demote = client.patch(f"{base}/{owner.email}/role", json={"role": "viewer"}, headers=admin.headers)
    assert demote.status_code == 403
    assert (
        client.post(base, json={"email": unique_email(), "role": "owner"}, headers=owner.headers).status_code
        == 201
    )


def test_role_change_takes_effect(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    admin = add_member(app, client, owner, "admin")
    assert client.get(f"/v1/orgs/{owner.org_id}/members", headers=admin.headers).status_code == 200
    client.patch(
        f"/v1/orgs/{owner.org_id}/members/{admin.email}/role", json={"role": "viewer"}, headers=owner.headers
    )
    assert client.get(f"/v1/orgs/{owner.org_id}/members", headers=admin.headers).status_code == 403


def test_roles_matrix_is_the_reference(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    roles = client.get(f"/v1/orgs/{owner.org_id}/roles", headers=owner.headers).json()["roles"]
    assert list(roles) == ["owner", "admin", "developer", "viewer"]
    assert roles == {str(k): list(v) for k, v in ROLE_PERMISSIONS.items()}
    assert len(roles["owner"]) == 26 and "billing.write" not in roles["admin"]


def test_other_orgs_are_404(app: FastAPI, client: TestClient) -> None:
    mine = new_org(app, client)
    theirs = new_org(app, client)
    for method, path, body in [
        ("GET", f"/v1/orgs/{theirs.org_id}/members", None),
        ("POST", f"/v1/orgs/{theirs.org_id}/members", {"email": unique_email(), "role": "viewer"}),
        ("GET", f"/v1/orgs/{theirs.org_id}/roles", None),
        ("PATCH", f"/v1/orgs/{theirs.org_id}/members/{theirs.email}/role", {"role": "viewer"}),
        ("GET", "/v1/orgs/org_doesnotexist/members", None),
    ]:
        response = client.request(method, path, json=body, headers=mine.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"] == "not_found"


def test_member_of_two_orgs_manages_the_path_org(app: FastAPI, client: TestClient) -> None:
    first = new_org(app, client)
    second = new_org(app, client)
    client.post(
        f"/v1/orgs/{second.org_id}/members",
        json={"email": first.email, "role": "admin"},
        headers=second.headers,
    )
    headers = {"Authorization": f"Bearer {first.token}"}  # no X-Org-Id: the default org is `first`
    assert client.get(f"/v1/orgs/{second.org_id}/members", headers=headers).status_code == 200
