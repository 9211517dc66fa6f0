"""`/auth/login`, `/auth/logout`, `/me`, `/users/me`, in email and password modes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.app import create_app
from dagy.server.domains.auth.service import set_password
from dagy.server.settings import Settings
from tests.conftest import SUPERADMIN
from tests.factories import add_member, login, new_org, unique_email


def test_superadmin_logs_in_without_org(client: TestClient) -> None:
    response = client.post("/v1/auth/login", json={"email": SUPERADMIN.upper()})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_at"].endswith("Z")
    me = client.get("/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {
        "user_email": SUPERADMIN,
        "super_admin": True,
        "org_id": None,
        "org_name": None,
        "role": None,
    }


def test_me_and_users_me(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    me = client.get("/v1/me", headers=owner.headers)
    assert me.status_code == 200
    assert me.json() == {"user_email": owner.email, "org_id": owner.org_id, "role": "owner"}
    detail = client.get("/v1/users/me", headers=owner.headers).json()
    assert detail["super_admin"] is False
    assert detail["org_name"].startswith("org-")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"email": "not-an-email"}, 400, "email"),
        ({"email": ("a" * 250) + "@example.com"}, 400, "email"),
        ({"email": "a\x01b@example.com"}, 400, "email"),
        ({}, 400, "email"),
        ({"email": "x@example.com", "extra": 1}, 400, "extra"),
        ({"email": 12}, 400, "email"),
    ],
)
def test_login_rejects_bad_input(
    client: TestClient, body: dict[str, object], status: int, field: str
) -> None:
    response = client.post("/v1/auth/login", json=body)
    assert response.status_code == status
    error = response.json()
    assert error["error"] == "invalid_input"
    assert field in error["details"]


def test_login_rejects_non_json_body(client: TestClient) -> None:
    response = client.post(
        "/v1/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["details"] == {"body": "request body is not valid JSON"}


def test_unknown_email_is_401(client: TestClient) -> None:
    response = client.post("/v1/auth/login", json={"email": unique_email()})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_invited_member_becomes_active_on_first_login(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    email = unique_email("invitee")
    created = client.post(
        f"/v1/orgs/{owner.org_id}/members", json={"email": email, "role": "viewer"}, headers=owner.headers
    )
    assert created.json()["status"] == "invited"
    login(client, email)
    members = client.get(f"/v1/orgs/{owner.org_id}/members", headers=owner.headers).json()["items"]
    invitee = next(m for m in members if m["email"] == email)
    assert invitee["status"] == "active"
    assert invitee["joined_at"] is not None


def test_logout_revokes_the_token(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    assert client.post("/v1/auth/logout", headers=owner.headers).status_code == 204
    assert client.get("/v1/me", headers=owner.headers).status_code == 401
    assert client.post("/v1/auth/logout", headers=owner.headers).status_code == 401


def test_logout_reaches_a_cached_principal(settings: Settings) -> None:
    """With the principal cache on, logout still takes effect at once in this process."""
    app = create_app(settings.model_copy(update={"auth_cache_seconds": 60}), migrate=False)
    with TestClient(app) as client:
        owner = new_org(app, client)
        assert client.get("/v1/me", headers=owner.headers).status_code == 200
        assert client.post("/v1/auth/logout", headers=owner.headers).status_code == 204
        assert client.get("/v1/me", headers=owner.headers).status_code == 401


@pytest.mark.parametrize("header", ["", "Bearer", "Basic abc", "Bearer not-a-token"])
def test_authentication_required(client: TestClient, header: str) -> None:
    response = client.get("/v1/me", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_x_org_id_selects_the_org(app: FastAPI, client: TestClient) -> None:
    first = new_org(app, client)
    second = new_org(app, client)
    member = add_member(app, client, second, "viewer")
    both = {"Authorization": f"Bearer {member.token}"}
    # The member belongs to `second` only; naming `first` is refused.
    assert client.get("/v1/me", headers=both | {"X-Org-Id": first.org_id}).status_code == 403
    assert client.get("/v1/me", headers=both).json()["org_id"] == second.org_id
    client.post(
        f"/v1/orgs/{first.org_id}/members",
        json={"email": member.email, "role": "developer"},
        headers=first.headers,
    )
    chosen = client.get("/v1/me", headers=both | {"X-Org-Id": first.org_id}).json()
    assert chosen == {"user_email": member.email, "org_id": first.org_id, "role": "developer"}


@pytest.fixture
def password_client(settings: Settings) -> Iterator[tuple[FastAPI, TestClient]]:
    app = create_app(
        settings.model_copy(update={"auth_mode": "password", "login_failures_per_minute": 3}), migrate=False
    )
    with TestClient(app) as client:
        yield app, client


def test_password_mode_login(password_client: tuple[FastAPI, TestClient]) -> None:
    app, client = password_client
    email = unique_email("admin")
    with app.state.db.transaction(write=True) as session:
        set_password(session, email=email, password="correct horse battery")
    app.state.settings.superadmin_emails.append(email)
    missing = client.post("/v1/auth/login", json={"email": email})
    assert missing.status_code == 400
    assert "password" in missing.json()["details"]
    wrong = client.post("/v1/auth/login", json={"email": email, "password": "wrong password!"})
    unknown = client.post("/v1/auth/login", json={"email": unique_email(), "password": "wrong password!"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert (
        client.post("/v1/auth/login", json={"email": email, "password": "correct horse battery"}).status_code
        == 200
    )


def test_password_mode_throttles_failures(password_client: tuple[FastAPI, TestClient]) -> None:
    _app, client = password_client
    email = unique_email()
    statuses = [
        client.post("/v1/auth/login", json={"email": email, "password": "nope nope nope"}).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    last = client.post("/v1/auth/login", json={"email": email, "password": "nope nope nope"})
    assert last.status_code == 429
    assert int(last.headers["Retry-After"]) >= 1


def test_invitation_token_sets_password(password_client: tuple[FastAPI, TestClient]) -> None:
    app, client = password_client
    owner_email = unique_email("owner")
    with app.state.db.transaction(write=True) as session:
        set_password(session, email=owner_email, password="owner password 1")
    app.state.settings.superadmin_emails.append(owner_email)
    token = client.post("/v1/auth/login", json={"email": owner_email, "password": "owner password 1"}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    org = client.post("/v1/orgs", json={"org_name": f"org-{owner_email}"}, headers=headers).json()
    invitee = unique_email("invitee")
    created = client.post(
        f"/v1/orgs/{org['org_id']}/members",
        json={"email": invitee, "role": "developer"},
        headers=headers | {"X-Org-Id": org["org_id"]},
    ).json()
    invitation = created["invitation_token"]
    assert invitation
    short = client.post(
        "/v1/auth/invitations/accept", json={"invitation_token": invitation, "password": "short"}
    )
    assert short.status_code == 400
    accepted = client.post(
        "/v1/auth/invitations/accept", json={"invitation_token": invitation, "password": "invitee password 1"}
    )
    assert accepted.status_code == 200
    again = client.post(
        "/v1/auth/invitations/accept", json={"invitation_token": invitation, "password": "invitee password 1"}
    )
    assert again.status_code == 404
    logged_in = client.post("/v1/auth/login", json={"email": invitee, "password": "invitee password 1"})
    assert logged_in.status_code == 200
