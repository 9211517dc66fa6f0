"""Creating orgs, inviting members, changing roles."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy.orm import Session

from dagy.server.db.base import utcnow
from dagy.server.db.models import Membership, Org
from dagy.server.db.models.identity import ORG_SUSPENDED
from dagy.server.domains.audit_logs.service import Action, record
from dagy.server.domains.auth import service as auth
from dagy.server.domains.billing.plans import default_plan
from dagy.server.domains.orgs import repository as repo
from dagy.server.domains.orgs.schemas import (
    MemberCreate,
    MemberCreated,
    MemberList,
    MemberRead,
    MemberRoleRead,
    OrgCreate,
    OrgList,
    OrgListItem,
    OrgRead,
    RolesRead,
    RoleUpdate,
)
from dagy.server.errors import Conflict, InvalidInput, NotFound, OrgSuspended, PermissionDenied
from dagy.server.identity import Actor, mark_identity_changed
from dagy.server.rbac import ROLE_PERMISSIONS, Role
from dagy.server.settings import AuthMode, Settings

INVITATION_TTL = timedelta(days=7)


def _org_read(org: Org) -> OrgRead:
    return OrgRead(
        org_id=org.id,
        org_name=org.name,
        plan=org.plan,
        owner_email=org.owner_email,
        created_at=org.created_at,
    )


def create_org(session: Session, *, actor: Actor, data: OrgCreate, settings: Settings) -> OrgRead:
    """The caller becomes the owner. Without billing (self-hosted) the plan asked for only sets limits."""
    if actor.user_id is None or actor.email is None:
        raise PermissionDenied("Only a signed-in user can create an organization.")
    if repo.get_org_by_name(session, data.org_name) is not None:
        raise Conflict("Organization name already exists.", details={"org_name": "already exists"})
    plan = data.plan or default_plan(settings)
    org = Org(name=data.org_name, plan=plan, owner_email=actor.email)
    repo.add(session, org)
    now = utcnow()
    repo.add(
        session,
        Membership(org_id=org.id, user_id=actor.user_id, role=Role.OWNER, status="active", joined_at=now),
    )
    record(
        session,
        actor=actor,
        action=Action.CREATE,
        resource_type="org",
        resource_id=org.id,
        resource_name=org.name,
        changes={"plan": [None, plan]},
        org_id=org.id,
    )
    mark_identity_changed(session)
    return _org_read(org)


def list_orgs(session: Session, *, actor: Actor) -> OrgList:
    if actor.user_id is None:
        return OrgList(items=[])
    principal = actor.principal
    if principal is not None and principal.impersonating and principal.org_id is not None:
        # A super admin impersonating works in that one org as its owner: a client choosing its
        # org (and naming it in `/orgs/{org_id}/...`) from this list then stays in it.
        org = repo.get_org(session, principal.org_id)
        if org is None:
            raise NotFound("Organization not found.")
        item = OrgListItem(
            org_id=org.id, org_name=org.name, plan=org.plan, role=Role.OWNER, created_at=org.created_at
        )
        return OrgList(items=[item])
    return OrgList(
        items=[
            OrgListItem(org_id=o.id, org_name=o.name, plan=o.plan, role=m.role, created_at=o.created_at)
            for m, o in auth.memberships_of_user(session, user_id=actor.user_id)
        ]
    )


def add_member(
    session: Session, *, actor: Actor, org_id: str, data: MemberCreate, settings: Settings
) -> MemberCreated:
    org = _org_in_context(session, actor, org_id)
    _check_may_grant(actor, data.role)
    user = auth.user_with_email(session, email=data.email)
    if auth.has_membership(session, user_id=user.id, org_id=org.id):
        raise Conflict("Member already exists.", details={"email": "already a member"})
    token = secrets.token_urlsafe(32) if settings.auth_mode == AuthMode.PASSWORD else None
    membership = Membership(
        org_id=org.id,
        user_id=user.id,
        role=data.role,
        status="invited",
        invitation_token_hash=auth.sha256_hex(token) if token else None,
        invitation_expires_at=utcnow() + INVITATION_TTL if token else None,
    )
    repo.add(session, membership)
    record(
        session,
        actor=actor,
        action=Action.CREATE,
        resource_type="member",
        resource_id=membership.id,
        resource_name=data.email,
        changes={"role": [None, str(data.role)], "status": [None, "invited"]},
    )
    mark_identity_changed(session)
    return MemberCreated(
        member_id=membership.id,
        email=user.email,
        role=membership.role,
        added_at=membership.created_at,
        status=membership.status,
        invitation_token=token,
    )


def list_members(session: Session, *, actor: Actor, org_id: str) -> MemberList:
    org = _org_in_context(session, actor, org_id)
    return MemberList(
        items=[
            MemberRead(member_id=m.id, email=u.email, role=m.role, status=m.status, joined_at=m.joined_at)
            for m, u in repo.list_members(session, org.id)
        ]
    )


def update_member_role(
    session: Session, *, actor: Actor, org_id: str, email: str, data: RoleUpdate
) -> MemberRoleRead:
    org = _org_in_context(session, actor, org_id)
    found = repo.get_member_by_email(session, org.id, email.strip().lower())
    if found is None:
        raise NotFound("Member not found.")
    membership, user = found
    old = membership.role
    if Role.OWNER in (old, data.role):
        _check_may_grant(actor, Role.OWNER)
    if old == Role.OWNER and data.role != Role.OWNER and _owner_count(session, org.id) == 1:
        raise InvalidInput("An organization keeps at least one owner.", details={"role": "last owner"})
    membership.role = data.role
    membership.updated_at = utcnow()
    record(
        session,
        actor=actor,
        action=Action.UPDATE,
        resource_type="member",
        resource_id=membership.id,
        resource_name=user.email,
        changes={"role": [old, str(data.role)]},
    )
    mark_identity_changed(session)
    return MemberRoleRead(
        member_id=membership.id, email=user.email, role=membership.role, updated_at=membership.updated_at
    )


def roles_matrix(session: Session, *, actor: Actor, org_id: str) -> RolesRead:
    _org_in_context(session, actor, org_id)
    return RolesRead(roles={str(role): list(perms) for role, perms in ROLE_PERMISSIONS.items()})


def check_not_suspended(session: Session, *, org_id: str) -> None:
    """403 `org_suspended` for work arriving without a caller (a webhook) into a suspended org."""
    org = repo.get_org(session, org_id)
    if org is not None and org.status == ORG_SUSPENDED:
        raise OrgSuspended()


def _org_in_context(session: Session, actor: Actor, org_id: str) -> Org:
    """The path's org must be the org the request acts in; any other org does not exist for it."""
    if org_id != actor.org_id:
        raise NotFound("Organization not found.")
    org = repo.get_org(session, org_id)
    if org is None:
        raise NotFound("Organization not found.")
    return org


def _check_may_grant(actor: Actor, role: Role) -> None:
    if role == Role.OWNER and (actor.principal is None or actor.principal.role != Role.OWNER):
        raise PermissionDenied("Only an owner can grant or take away the owner role.")


def _owner_count(session: Session, org_id: str) -> int:
    return sum(1 for m, _u in repo.list_members(session, org_id) if m.role == Role.OWNER)
