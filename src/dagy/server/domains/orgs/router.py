"""`/orgs`, `/orgs/{org_id}/members`, `/orgs/{org_id}/roles`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dagy.server.api.deps import SettingsDep, Tx
from dagy.server.api.security import CurrentActor, require_org_permission
from dagy.server.domains.orgs import service
from dagy.server.domains.orgs.schemas import (
    MemberCreate,
    MemberCreated,
    MemberList,
    MemberRoleRead,
    OrgCreate,
    OrgList,
    OrgRead,
    RolesRead,
    RoleUpdate,
)
from dagy.server.identity import Actor

router = APIRouter(prefix="/orgs", tags=["Organizations & Team"])

_members_admin = require_org_permission("admin.members")
MembersAdmin = Annotated[Actor, Depends(_members_admin)]


@router.post("", status_code=201, response_model=OrgRead)
async def create_org(body: OrgCreate, tx: Tx, actor: CurrentActor, settings: SettingsDep) -> OrgRead:
    """Any signed-in user; the caller becomes the org's owner."""
    return await tx.run(service.create_org, actor=actor, data=body, settings=settings)


@router.get("", response_model=OrgList)
async def list_orgs(tx: Tx, actor: CurrentActor) -> OrgList:
    return await tx.run(service.list_orgs, actor=actor)


@router.post(
    "/{org_id}/members", status_code=201, response_model=MemberCreated, dependencies=[Depends(_members_admin)]
)
async def add_member(
    org_id: str, body: MemberCreate, tx: Tx, actor: MembersAdmin, settings: SettingsDep
) -> MemberCreated:
    return await tx.run(service.add_member, actor=actor, org_id=org_id, data=body, settings=settings)


@router.get("/{org_id}/members", response_model=MemberList, dependencies=[Depends(_members_admin)])
async def list_members(org_id: str, tx: Tx, actor: MembersAdmin) -> MemberList:
    return await tx.run(service.list_members, actor=actor, org_id=org_id)


@router.get("/{org_id}/roles", response_model=RolesRead, dependencies=[Depends(_members_admin)])
async def roles(org_id: str, tx: Tx, actor: MembersAdmin) -> RolesRead:
    return await tx.run(service.roles_matrix, actor=actor, org_id=org_id)


@router.patch(
    "/{org_id}/members/{email}/role", response_model=MemberRoleRead, dependencies=[Depends(_members_admin)]
)
async def update_member_role(
    org_id: str, email: str, body: RoleUpdate, tx: Tx, actor: MembersAdmin
) -> MemberRoleRead:
    return await tx.run(service.update_member_role, actor=actor, org_id=org_id, email=email, data=body)
