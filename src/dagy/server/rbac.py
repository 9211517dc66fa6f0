"""Roles and the permissions they grant: exactly the reference's matrix (`GET /orgs/{id}/roles`)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    DEVELOPER = "developer"
    VIEWER = "viewer"


ROLE_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    Role.OWNER: (
        "flows.read", "flows.write", "flows.delete",
        "runs.read", "runs.trigger", "runs.cancel",
        "schedules.read", "schedules.write", "schedules.delete",
        "api_keys.read", "api_keys.write", "api_keys.delete",
        "admin.members", "admin.api_keys", "admin.audit",
        "secrets.read", "secrets.write", "secrets.delete",
        "notifications.read", "notifications.write",
        "environments.read", "environments.write",
        "sensors.read", "sensors.write",
        "billing.read", "billing.write",
    ),
    Role.ADMIN: (
        "flows.read", "flows.write", "flows.delete",
        "runs.read", "runs.trigger", "runs.cancel",
        "schedules.read", "schedules.write",
        "api_keys.read", "api_keys.write",
        "admin.members", "admin.api_keys", "admin.audit",
        "secrets.read", "secrets.write",
        "notifications.read", "notifications.write",
        "environments.read", "environments.write",
        "sensors.read", "sensors.write",
        "billing.read",
    ),
    Role.DEVELOPER: (
        "flows.read", "flows.write",
        "runs.read", "runs.trigger", "runs.cancel",
        "schedules.read", "schedules.write",
        "secrets.read", "secrets.write",
        "notifications.read",
        "environments.read",
        "sensors.read", "sensors.write",
    ),
    Role.VIEWER: (
        "flows.read",
        "runs.read",
        "schedules.read",
        "environments.read",
        "billing.read",
    ),
}  # fmt: skip

ALL_PERMISSIONS: frozenset[str] = frozenset(p for perms in ROLE_PERMISSIONS.values() for p in perms)


def permissions_of(role: str) -> frozenset[str]:
    return frozenset(ROLE_PERMISSIONS[Role(role)])
