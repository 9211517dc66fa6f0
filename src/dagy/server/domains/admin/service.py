"""The super admin's use cases across orgs: customers, their members, sessions, suspension,
credits and impersonation. Every change is audited in the customer's org under the super admin's
email (docs/admin.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.api.pagination import PageRequest, keyset_token, token_values
from dagy.server.db.base import utcnow
from dagy.server.db.models import Org
from dagy.server.db.models.identity import ORG_ACTIVE, ORG_SUSPENDED
from dagy.server.domains.admin import repository as repo
from dagy.server.domains.admin.schemas import (
    AdminAuditList,
    AdminAuditRead,
    AdminMemberList,
    AdminMemberRead,
    CreditsAdjust,
    CreditsRead,
    CustomerList,
    CustomerListItem,
    CustomerQuery,
    CustomerRead,
    CustomerUpdate,
    ImpersonationRead,
    OrgStatusRead,
    SessionList,
    SessionRead,
    SessionsRevoked,
)
from dagy.server.domains.audit_logs.service import Action, diff, record
from dagy.server.domains.auth import service as auth
from dagy.server.domains.credits import service as credits
from dagy.server.errors import InvalidInput, NotFound
from dagy.server.identity import Actor, mark_identity_changed

RESOURCE = "org"


def _org(session: Session, org_id: str, *, lock: bool = False) -> Org:
    org = repo.get_org(session, org_id, lock=lock)
    if org is None:
        raise NotFound("Organization not found.")
    return org


def _after(page: PageRequest) -> tuple[datetime, str] | None:
    if not page.next_token:
        return None
    moment, key = token_values(page.next_token, 2)
    try:
        return datetime.fromisoformat(str(moment)), str(key)
    except ValueError as exc:
        raise InvalidInput("Invalid pagination token.", details={"next_token": "malformed token"}) from exc


def list_customers(
    session: Session, *, actor: Actor, query: CustomerQuery, page: PageRequest
) -> CustomerList:
    """Every org, newest first, narrowed by status, plan and a search in name and owner email."""
    filters: dict[str, Any] = {"status": query.status, "plan": query.plan, "search": query.search}
    rows = repo.list_customers(session, **filters, limit=page.limit + 1, after=_after(page))
    token = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        token = keyset_token([rows[-1][0].created_at.isoformat(), rows[-1][0].id])
    items = [
        CustomerListItem(
            org_id=org.id,
            org_name=org.name,
            owner_email=org.owner_email,
            plan=org.plan,
            status=org.status,
            member_count=count,
            created_at=org.created_at,
            updated_at=org.updated_at,
        )
        for org, count in rows
    ]
    return CustomerList(items=items, total=repo.count_customers(session, **filters), next_token=token)


def _customer(org: Org) -> CustomerRead:
    return CustomerRead(
        org_id=org.id,
        org_name=org.name,
        owner_email=org.owner_email,
        plan=org.plan,
        status=org.status,
        quota_overrides=dict(org.quota_overrides or {}),
        feature_flags=dict(org.feature_flags or {}),
        notes=org.notes,
        credits_balance=float(org.credits_balance),
        created_at=org.created_at,
        updated_at=org.updated_at,
    )


def get_customer(session: Session, *, actor: Actor, org_id: str) -> CustomerRead:
    return _customer(_org(session, org_id))


def _snapshot(org: Org) -> dict[str, Any]:
    return {
        "status": org.status,
        "plan": org.plan,
        "quota_overrides": dict(org.quota_overrides or {}),
        "feature_flags": dict(org.feature_flags or {}),
        "notes": org.notes,
        "credits_balance": float(org.credits_balance),
    }


def update_customer(session: Session, *, actor: Actor, org_id: str, data: CustomerUpdate) -> CustomerRead:
    """Change the given fields (400 when none is given). A status change suspends or activates."""
    given = data.model_fields_set
    if not given:
        raise InvalidInput("No fields to update.", details={"body": "give at least one field"})
    org = _org(session, org_id, lock=True)
    before = _snapshot(org)
    if "credits_balance" in given and data.credits_balance is not None:
        credits.set_balance(
            session,
            org_id=org.id,
            balance=float(data.credits_balance),
            current=float(org.credits_balance),
            actor_email=actor.email,
        )
        session.refresh(org, ["credits_balance"])
    for field in ("plan", "quota_overrides", "feature_flags", "notes"):
        if field in given and (field == "notes" or getattr(data, field) is not None):
            setattr(org, field, getattr(data, field))
    if "status" in given and data.status is not None:
        _set_status(session, org, data.status)
    org.updated_at = utcnow()
    session.flush()
    changes = diff(before, _snapshot(org))
    record(
        session,
        actor=actor,
        action=Action.UPDATE,
        resource_type=RESOURCE,
        resource_id=org.id,
        resource_name=org.name,
        changes=changes,
        org_id=org.id,
    )
    return _customer(org)


def _set_status(session: Session, org: Org, status: str) -> None:
    """Suspend or activate: cached principals are dropped with the commit, so the org's members are
    refused (or let in again) from the next request on; the claim, scheduler and sensor queries
    skip a suspended org's work (`in_unsuspended_org`)."""
    if org.status != status:
        org.status = status
        mark_identity_changed(session)


def _change_status(session: Session, *, actor: Actor, org_id: str, status: str) -> OrgStatusRead:
    org = _org(session, org_id, lock=True)
    before = org.status
    _set_status(session, org, status)
    if before != status:
        org.updated_at = utcnow()
        record(
            session,
            actor=actor,
            action=Action.UPDATE,
            resource_type=RESOURCE,
            resource_id=org.id,
            resource_name=org.name,
            changes={"status": [before, status]},
            org_id=org.id,
        )
    return OrgStatusRead(status=org.status, org_id=org.id)


def suspend_customer(session: Session, *, actor: Actor, org_id: str) -> OrgStatusRead:
    return _change_status(session, actor=actor, org_id=org_id, status=ORG_SUSPENDED)


def activate_customer(session: Session, *, actor: Actor, org_id: str) -> OrgStatusRead:
    return _change_status(session, actor=actor, org_id=org_id, status=ORG_ACTIVE)


def list_customer_members(session: Session, *, actor: Actor, org_id: str) -> AdminMemberList:
    _org(session, org_id)
    return AdminMemberList(
        items=[
            AdminMemberRead(user_email=user.email, role=m.role, status=m.status, joined_at=m.joined_at)
            for m, user in repo.list_members(session, org_id)
        ]
    )


def list_customer_audit(session: Session, *, actor: Actor, org_id: str, page: PageRequest) -> AdminAuditList:
    """The org's audit trail, newest first."""
    _org(session, org_id)
    rows = repo.list_audit(session, org_id, limit=page.limit + 1, after=_after(page))
    token = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        token = keyset_token([rows[-1].timestamp.isoformat(), rows[-1].id])
    items = [
        AdminAuditRead(
            org_id=row.org_id,
            event_time=row.timestamp,
            resource_type=row.resource_type,
            resource_id=row.resource_id,
            action=row.action,
            actor_email=row.actor_email,
            metadata=dict(row.changes or {}),
        )
        for row in rows
    ]
    return AdminAuditList(items=items, next_token=token)


def list_customer_sessions(session: Session, *, actor: Actor, org_id: str) -> SessionList:
    """Members with a live login session: their last login and when their newest token was issued."""
    _org(session, org_id)
    return SessionList(
        items=[
            SessionRead(user_email=email, last_login_at=last_login, current_token_issued_at=issued)
            for email, last_login, issued in repo.list_live_sessions(session, org_id, utcnow())
        ]
    )


def revoke_customer_sessions(
    session: Session, *, actor: Actor, org_id: str, user_email: str
) -> SessionsRevoked:
    """End every live session of a member of the org; their tokens stop working at once."""
    _org(session, org_id)
    email = user_email.strip().lower()
    user = repo.get_member_user(session, org_id, email)
    if user is None:
        raise NotFound("No member with this email in the organization.")
    deleted = auth.revoke_sessions_of_user(session, user_id=user.id)
    record(
        session,
        actor=actor,
        action=Action.DELETE,
        resource_type="session",
        resource_id=email,
        changes={"sessions_revoked": [None, deleted]},
        org_id=org_id,
    )
    return SessionsRevoked(user_email=email, deleted=deleted)


def adjust_customer_credits(
    session: Session, *, actor: Actor, org_id: str, data: CreditsAdjust
) -> CreditsRead:
    """Add or deduct credits; the balance never goes below zero (400)."""
    org = _org(session, org_id)
    before = float(org.credits_balance)
    balance = credits.adjust_credits(
        session, org_id=org.id, amount=float(data.amount), reason=data.reason, actor_email=actor.email
    )
    record(
        session,
        actor=actor,
        action=Action.UPDATE,
        resource_type="credits",
        resource_id=org.id,
        resource_name=org.name,
        org_id=org.id,
        changes={"credits_balance": [before, balance], "amount": float(data.amount), "reason": data.reason},
    )
    return CreditsRead(org_id=org.id, credits_balance=balance)


def start_impersonation(session: Session, *, actor: Actor, org_id: str) -> ImpersonationRead:
    """Record that the super admin begins acting in the org; the requests that follow carry
    `X-Impersonate-Org` and are each audited with `impersonating: true`."""
    org = _org(session, org_id)
    record(
        session,
        actor=actor,
        action=Action.EXECUTE,
        resource_type="impersonation",
        resource_id=org.id,
        resource_name=org.name,
        changes={"impersonating": True},
        org_id=org.id,
    )
    return ImpersonationRead(org_id=org.id, org_name=org.name)
