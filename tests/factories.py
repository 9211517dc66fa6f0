"""Test data through the product's own services and HTTP API: unique names, no shared state."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.domains.auth import repository as users
from dagy.server.domains.orgs import service as orgs
from dagy.server.domains.orgs.schemas import MemberCreate, OrgCreate
from dagy.server.identity import Actor, Principal, PrincipalKind
from dagy.server.rbac import Role, permissions_of


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(5)}"


def unique_email(prefix: str = "user") -> str:
    return f"{unique(prefix)}@example.com"


@dataclass
class Caller:
    """A signed-in user acting in one org: `headers` carry the token and `X-Org-Id`."""

    email: str
    org_id: str
    token: str
    role: str
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.token}", "X-Org-Id": self.org_id}


def login(client: TestClient, email: str) -> str:
    response = client.post("/v1/auth/login", json={"email": email})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def new_org(app: FastAPI, client: TestClient, *, plan: str = "enterprise") -> Caller:
    """A fresh user who owns a fresh org (set up through the orgs service, then signed in over HTTP).
    Enterprise by default: no run quota, so tests queue as many runs as they like; quota tests ask
    for the plan they test."""
    email = unique_email("owner")
    with app.state.db.transaction(write=True) as session:
        user = users.add_user(session, email)
        actor = Actor(
            principal=Principal(
                kind=PrincipalKind.SESSION,
                user_id=user.id,
                email=email,
                org_id=None,
                org_name=None,
                role=None,
                permissions=frozenset(),
            )
        )
        org = orgs.create_org(
            session,
            actor=actor,
            data=OrgCreate(org_name=unique("org"), plan=plan),
            settings=app.state.settings,
        )
    return Caller(email=email, org_id=org.org_id, token=login(client, email), role=Role.OWNER)


def add_member(app: FastAPI, client: TestClient, owner: Caller, role: str) -> Caller:
    """A fresh user with `role` in the owner's org, signed in."""
    email = unique_email(role)
    with app.state.db.transaction(write=True) as session:
        actor = Actor(
            principal=Principal(
                kind=PrincipalKind.SESSION,
                user_id=None,
                email=owner.email,
                org_id=owner.org_id,
                org_name=None,
                role=Role.OWNER,
                permissions=permissions_of(Role.OWNER),
            )
        )
        orgs.add_member(
            session,
            actor=actor,
            org_id=owner.org_id,
            data=MemberCreate(email=email, role=Role(role)),
            settings=app.state.settings,
        )
    return Caller(email=email, org_id=owner.org_id, token=login(client, email), role=role)
