"""Every route declares one permission; each role gets exactly the routes its permissions allow.

Generated from the app's own routes and the roles matrix, so a new route is covered the day it
is added: a role lacking the route's permission gets 403, a role holding it never does.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from dagy.server.rbac import ROLE_PERMISSIONS, Role
from tests.factories import Caller, add_member, new_org

# Routes the reference leaves open, or open to any signed-in caller.
PUBLIC = {
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/invitations/accept"),
    ("GET", "/v1/auth/oidc/login"),  # single sign-on: the browser's way to the provider and back
    ("GET", "/v1/auth/oidc/callback"),
    ("GET", "/v1/health"),
    ("GET", "/v1/health/live"),  # the orchestrators' probes
    ("GET", "/v1/health/ready"),
    ("POST", "/v1/billing/webhook"),
    ("GET", "/v1/billing/plans"),
    ("POST", "/v1/webhooks/{token}"),
    ("PUT", "/v1/artifacts/uploads/{upload_id}/parts/{part_number}"),  # a signed URL, no bearer token
    ("GET", "/v1/ui/marketing"),
    ("GET", "/v1/ui/navigation"),
    ("GET", "/v1/docs"),  # the interactive reference (api/docs.py); what it calls is checked
}
AUTHENTICATED_ONLY = {
    ("POST", "/v1/auth/logout"),
    ("GET", "/v1/me"),
    ("GET", "/v1/users/me"),
    ("POST", "/v1/orgs"),
    ("GET", "/v1/orgs"),
    ("GET", "/v1/health/detailed"),
    ("GET", "/v1/ui/settings"),
}


def _permission(route: APIRoute) -> str | None:
    for dependency in route.dependant.dependencies:
        permission = getattr(dependency.call, "permission", None)
        if permission is not None:
            return str(permission)
    return None


def _api_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, APIRoute]]:
    """(full path, route) for every APIRoute, including those of included routers."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
        elif hasattr(route, "original_router"):  # an included router
            found.extend(_api_routes(route.original_router.routes, prefix + route.include_context.prefix))
    return found


def _routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    return [
        (method, path, route)
        for path, route in _api_routes(app.routes)
        if path.startswith("/v1") and "/workers/" not in path
        for method in sorted(route.methods)
    ]


def test_every_route_declares_its_permission(app: FastAPI) -> None:
    undeclared = [
        (m, p)
        for m, p, r in _routes(app)
        if _permission(r) is None
        and (m, p) not in PUBLIC | AUTHENTICATED_ONLY
        and not p.startswith("/v1/admin")
    ]
    assert undeclared == []


def _fill(path: str, caller: Caller) -> str:
    path = path.replace("{org_id}", caller.org_id)
    return re.sub(r"\{[^}]+\}", "matrix-probe", path)


def test_role_permission_matrix(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    callers = {Role.OWNER: owner} | {
        role: add_member(app, client, owner, role) for role in (Role.ADMIN, Role.DEVELOPER, Role.VIEWER)
    }
    checked: list[Any] = []
    for method, path, route in _routes(app):
        permission = _permission(route)
        if permission is None:
            continue
        for role, caller in callers.items():
            response = client.request(method, _fill(path, caller), json={}, headers=caller.headers)
            allowed = permission in ROLE_PERMISSIONS[role]
            if allowed:
                assert response.status_code != 403, (role, method, path, response.text)
            else:
                assert response.status_code == 403, (role, method, path, response.status_code)
                assert response.json()["error"] == "forbidden"
            checked.append((role, method, path))
    assert checked, "no permissioned route found"
