"""Who is calling: the resolved principal, and the actor a service records in the audit trail.

Plain data, no HTTP types: services receive an `Actor` and read `org_id`, `email` and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from dagy.server.errors import PermissionDenied


class PrincipalKind(StrEnum):
    SESSION = "session"
    API_KEY = "api_key"
    WORKER = "worker"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    user_id: str | None
    email: str | None
    org_id: str | None
    org_name: str | None
    role: str | None
    permissions: frozenset[str]
    is_super_admin: bool = False
    session_id: str | None = None
    api_key_id: str | None = None
    # A super admin acting in `org_id` as its owner through `X-Impersonate-Org` (docs/admin.md).
    impersonating: bool = False


@dataclass(frozen=True, slots=True)
class Actor:
    """The caller as services see it: identity plus where the request came from."""

    principal: Principal | None
    ip_address: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def org_id(self) -> str:
        """The org this request acts in; a caller without one may not touch org resources."""
        if self.principal is None or self.principal.org_id is None:
            raise PermissionDenied("You are not a member of any organization.")
        return self.principal.org_id

    @property
    def email(self) -> str | None:
        return self.principal.email if self.principal else None

    @property
    def user_id(self) -> str | None:
        return self.principal.user_id if self.principal else None

    @property
    def actor_type(self) -> str:
        return str(self.principal.kind) if self.principal else "system"

    def with_principal(self, principal: Principal) -> Actor:
        return replace(self, principal=principal)


SYSTEM_ACTOR = Actor(principal=None)


IDENTITY_CHANGED = "identity_changed"


def mark_identity_changed(session: Any) -> None:
    """Services call this when a change alters who may do what (logout, roles, keys): the request's
    unit of work then drops cached principals once the change is committed."""
    session.info[IDENTITY_CHANGED] = True
