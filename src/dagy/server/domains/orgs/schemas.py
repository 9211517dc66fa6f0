"""Bodies of `/orgs` and its members and roles."""

from __future__ import annotations

from pydantic import Field

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import Email, Name, RequestModel, ResponseModel
from dagy.server.domains.billing.plans import PLAN_IDS
from dagy.server.rbac import Role

PLANS = PLAN_IDS  # the plans table (domains/billing/plans.py)


class OrgCreate(RequestModel):
    org_name: Name
    plan: str | None = Field(
        None,
        pattern=f"^({'|'.join(PLAN_IDS)})$",
        description=f"One of {', '.join(PLAN_IDS)}; its limits apply to the org's runs. Default: "
        "`DAGY_DEFAULT_PLAN`, else free where billing is configured and enterprise (no quota) where not.",
    )


class OrgRead(ResponseModel):
    org_id: str
    org_name: str
    plan: str
    owner_email: str
    created_at: Timestamp


class OrgListItem(ResponseModel):
    org_id: str
    org_name: str
    plan: str
    role: str
    created_at: Timestamp


class OrgList(ResponseModel):
    items: list[OrgListItem]


class MemberCreate(RequestModel):
    email: Email
    role: Role


class MemberCreated(ResponseModel):
    member_id: str
    email: str
    role: str
    added_at: Timestamp
    status: str
    invitation_token: str | None = Field(
        None, description="Given once, to the inviter, in password mode: the invitee sets a password with it."
    )


class MemberRead(ResponseModel):
    member_id: str
    email: str
    role: str
    status: str
    joined_at: Timestamp | None


class MemberList(ResponseModel):
    items: list[MemberRead]


class RoleUpdate(RequestModel):
    role: Role


class MemberRoleRead(ResponseModel):
    member_id: str
    email: str
    role: str
    updated_at: Timestamp


class RolesRead(ResponseModel):
    roles: dict[str, list[str]]
