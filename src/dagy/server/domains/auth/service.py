"""Login, logout, invitations, and turning a bearer token into a principal."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy.orm import Session

from dagy.server.db.base import utcnow
from dagy.server.db.models import AuthSession, Membership, Org, User
from dagy.server.db.models.identity import ORG_ACTIVE, ORG_SUSPENDED
from dagy.server.domains.auth import repository as repo
from dagy.server.domains.auth.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from dagy.server.domains.auth.schemas import InvitationAccept, LoginRequest, MeRead, TokenRead, UserMeRead
from dagy.server.domains.auth.throttle import LoginThrottle
from dagy.server.errors import (
    InvalidInput,
    NotFound,
    OrgSuspended,
    PermissionDenied,
    RateLimited,
    Unauthorized,
)
from dagy.server.identity import Actor, Principal, PrincipalKind, mark_identity_changed
from dagy.server.rbac import ROLE_PERMISSIONS, Role
from dagy.server.settings import AuthMode, Settings

API_KEY_PREFIX = "dagy_sk_"
_LOGIN_FAILED = "Email not found or unauthorized."
SSO_LOGIN_PATH = "/v1/auth/oidc/login"
_SSO_REQUIRED = (
    f"This server signs in through single sign-on: open GET {SSO_LOGIN_PATH} in a browser "
    '(the web app\'s "Sign in with SSO"); scripts use an API key.'
)
# An API key's last_used_at is written at most this often, so keys on hot paths cost no writes.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def login(
    session: Session, *, actor: Actor, data: LoginRequest, settings: Settings, throttle: LoginThrottle
) -> TokenRead:
    if settings.auth_mode == AuthMode.OIDC:
        raise PermissionDenied(_SSO_REQUIRED, code="sso_required")
    ip = actor.ip_address or "-"
    wait = throttle.retry_after(data.email, ip)
    if wait:
        raise RateLimited("Too many failed logins; try again later.", headers={"Retry-After": str(wait)})
    if settings.auth_mode == AuthMode.PASSWORD and data.password is None:
        raise InvalidInput("A password is required.", details={"password": "field required"})
    user = repo.get_user_by_email(session, data.email)
    ok = _may_log_in(session, user, data, settings)
    if not ok:
        throttle.record_failure(data.email, ip)
        raise Unauthorized(_LOGIN_FAILED)
    throttle.reset(data.email, ip)
    if user is None:  # a super admin's first login
        user = repo.add_user(session, data.email)
    return _open_session(session, user=user, actor=actor, settings=settings)


def _may_log_in(session: Session, user: User | None, data: LoginRequest, settings: Settings) -> bool:
    if settings.auth_mode == AuthMode.PASSWORD:
        assert data.password is not None
        if not verify_password(user.password_hash if user else None, data.password):
            return False
    return _admitted(session, user, data.email, settings)


def _admitted(session: Session, user: User | None, email: str, settings: Settings) -> bool:
    """Who may sign in at all: a super admin, or a member (invited or active) of some org."""
    if email in settings.superadmin_emails:
        return True
    return user is not None and bool(repo.list_memberships_of_user(session, user.id))


def login_with_verified_email(session: Session, *, actor: Actor, email: str, settings: Settings) -> TokenRead:
    """Single sign-on's last step: the identity provider vouched for `email` (domains/auth/oidc.py).
    The same session `POST /auth/login` opens, for the same people, matched case-insensitively."""
    email = email.strip().lower()
    user = repo.get_user_by_email(session, email)
    if not _admitted(session, user, email, settings):
        raise PermissionDenied(
            f"No member of an organization on this server has the email {email}; ask an admin of "
            "your organization to add you.",
            code="oidc_unknown_user",
        )
    if user is None:  # a super admin's first login
        user = repo.add_user(session, email)
    return _open_session(session, user=user, actor=actor, settings=settings)


def _open_session(session: Session, *, user: User, actor: Actor, settings: Settings) -> TokenRead:
    now = utcnow()
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=settings.token_ttl_seconds)
    repo.add_auth_session(
        session,
        AuthSession(
            user_id=user.id,
            token_hash=sha256_hex(token),
            expires_at=expires_at,
            ip_address=actor.ip_address,
            user_agent=actor.user_agent,
        ),
    )
    user.last_login_at = now
    for membership, _org in repo.list_memberships_of_user(session, user.id):
        if membership.status == "invited":
            membership.status = "active"
            membership.joined_at = now
    return TokenRead(access_token=token, expires_at=expires_at)


def accept_invitation(
    session: Session, *, actor: Actor, data: InvitationAccept, settings: Settings
) -> TokenRead:
    """Redeem the token an inviter received from `POST /orgs/{org_id}/members`: set a password, log in.
    Under single sign-on the provider alone signs people in, so a token issued before is refused."""
    if settings.auth_mode == AuthMode.OIDC:
        raise PermissionDenied(_SSO_REQUIRED, code="sso_required")
    _check_password_strength(data.password)
    membership = repo.get_membership_by_invitation(session, sha256_hex(data.invitation_token))
    if membership is None or (membership.invitation_expires_at or utcnow()) <= utcnow():
        raise NotFound("Invitation not found or expired.")
    user = repo.get_user(session, membership.user_id)
    assert user is not None
    user.password_hash = hash_password(data.password)
    membership.invitation_token_hash = None
    membership.invitation_expires_at = None
    return _open_session(session, user=user, actor=actor, settings=settings)


def set_password(session: Session, *, email: str, password: str) -> None:
    """`dagy users set-password EMAIL`: the user is created when missing (a super admin's first setup)."""
    _check_password_strength(password)
    user = user_with_email(session, email=email)
    user.password_hash = hash_password(password)
    mark_identity_changed(session)


def user_with_email(session: Session, *, email: str) -> User:
    """The user of this email, created on first sight (an invitation, a first password)."""
    return repo.get_user_by_email(session, email) or repo.add_user(session, email)


def memberships_of_user(session: Session, *, user_id: str) -> list[tuple[Membership, Org]]:
    """Every membership of the user (invited ones too) with its org, oldest first."""
    return repo.list_memberships_of_user(session, user_id)


def has_membership(session: Session, *, user_id: str, org_id: str) -> bool:
    """Whether the user has a membership of the org, invited or active."""
    return repo.get_membership(session, user_id=user_id, org_id=org_id) is not None


def _check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.",
            details={"password": f"at least {MIN_PASSWORD_LENGTH} characters"},
        )


def logout(session: Session, *, actor: Actor) -> None:
    principal = actor.principal
    if principal is None or principal.session_id is None:
        raise InvalidInput("Only a login session can log out; delete an API key instead.")
    repo.revoke_auth_session(session, principal.session_id, utcnow())
    mark_identity_changed(session)


def revoke_sessions_of_user(session: Session, *, user_id: str) -> int:
    """End every live login session of the user at once (their tokens stop working in this
    request's commit; the principal cache is cleared with it). Answers how many were live."""
    revoked = repo.revoke_sessions_of_user(session, user_id, utcnow())
    mark_identity_changed(session)
    return revoked


def me(actor: Actor) -> MeRead:
    p = actor.principal
    assert p is not None
    return MeRead(user_email=p.email, org_id=p.org_id, role=p.role)


def user_me(actor: Actor) -> UserMeRead:
    p = actor.principal
    assert p is not None
    return UserMeRead(
        user_email=p.email, org_id=p.org_id, role=p.role, super_admin=p.is_super_admin, org_name=p.org_name
    )


def resolve_principal(
    session: Session,
    *,
    settings: Settings,
    token: str,
    digest: str,
    org_header: str | None,
    impersonate: str | None = None,
) -> tuple[Principal, str | None]:
    """The principal a bearer token stands for, and the id of an API key whose use should be recorded.

    `impersonate` (`X-Impersonate-Org`) is honoured for a super admin's login session only; any
    other caller sending it is refused, never silently ignored."""
    if token.startswith(API_KEY_PREFIX):
        if impersonate is not None:
            raise PermissionDenied(_IMPERSONATION_REFUSED)
        return _principal_from_api_key(session, settings, digest, org_header)
    worker_token = settings.worker_token.get_secret_value() if settings.worker_token else None
    if worker_token and hmac.compare_digest(token.encode(), worker_token.encode()):
        if impersonate is not None:
            raise PermissionDenied(_IMPERSONATION_REFUSED)
        return _worker_principal(), None
    return _principal_from_session(session, settings, digest, org_header, impersonate), None


_IMPERSONATION_REFUSED = "X-Impersonate-Org is accepted only with a super admin's login session."


def _worker_principal() -> Principal:
    return Principal(
        kind=PrincipalKind.WORKER,
        user_id=None,
        email=None,
        org_id=None,
        org_name=None,
        role=None,
        permissions=frozenset(),
    )


def _principal_from_session(
    session: Session, settings: Settings, digest: str, org_header: str | None, impersonate: str | None
) -> Principal:
    found = repo.get_live_auth_session(session, digest, utcnow())
    if found is None:
        raise Unauthorized("Invalid or expired token.", headers={"WWW-Authenticate": "Bearer"})
    auth_session, user = found
    is_super_admin = user.email in settings.superadmin_emails
    if impersonate is not None:
        if not is_super_admin:
            raise PermissionDenied(_IMPERSONATION_REFUSED)
        return _impersonating_principal(session, user, auth_session.id, impersonate)
    memberships = repo.list_memberships_of_user(session, user.id)
    chosen = _choose_membership(memberships, org_header, exempt=is_super_admin)
    membership, org = chosen if chosen else (None, None)
    return Principal(
        kind=PrincipalKind.SESSION,
        user_id=user.id,
        email=user.email,
        org_id=org.id if org else None,
        org_name=org.name if org else None,
        role=membership.role if membership else None,
        permissions=_org_permissions(membership, org, exempt=is_super_admin),
        is_super_admin=is_super_admin,
        session_id=auth_session.id,
    )


def _impersonating_principal(session: Session, user: User, session_id: str, org_id: str) -> Principal:
    """A super admin acting in `org_id` with an owner's permissions, whatever the org's status."""
    org = repo.get_org(session, org_id)
    if org is None:
        raise NotFound("Organization not found.")
    return Principal(
        kind=PrincipalKind.SESSION,
        user_id=user.id,
        email=user.email,
        org_id=org.id,
        org_name=org.name,
        role=Role.OWNER,
        permissions=frozenset(ROLE_PERMISSIONS[Role.OWNER]),
        is_super_admin=True,
        session_id=session_id,
        impersonating=True,
    )


def _choose_membership(
    memberships: list[tuple[Membership, Org]], org_header: str | None, *, exempt: bool
) -> tuple[Membership, Org] | None:
    """The membership of the `X-Org-Id` org, else the oldest of an org that is not suspended. A
    request into a suspended org is refused (`org_suspended`) unless the caller is a super admin."""
    if org_header is not None:
        for membership, org in memberships:
            if org.id == org_header:
                if org.status == ORG_SUSPENDED and not exempt:
                    raise OrgSuspended()
                return membership, org
        raise PermissionDenied("You are not a member of the organization in X-Org-Id.")
    if exempt:
        return memberships[0] if memberships else None
    usable = [(m, o) for m, o in memberships if o.status != ORG_SUSPENDED]
    if memberships and not usable:
        raise OrgSuspended()
    return usable[0] if usable else None


def _org_permissions(
    membership: Membership | None, org: Org | None, *, exempt: bool = False
) -> frozenset[str]:
    if membership is None or org is None:
        return frozenset()
    if org.status != ORG_ACTIVE and not (exempt and org.status == ORG_SUSPENDED):
        return frozenset()
    return frozenset(ROLE_PERMISSIONS[Role(membership.role)])


def _principal_from_api_key(
    session: Session, settings: Settings, digest: str, org_header: str | None
) -> tuple[Principal, str | None]:
    found = repo.get_api_key_by_hash(session, digest)
    if found is None:
        raise Unauthorized("Invalid API key.", headers={"WWW-Authenticate": "Bearer"})
    key, creator = found
    if org_header is not None and org_header != key.org_id:
        raise PermissionDenied("An API key acts only in the organization it was created in.")
    membership_row = repo.get_membership(session, user_id=creator.id, org_id=key.org_id)
    if membership_row is None:
        raise Unauthorized("The API key's creator is no longer a member of its organization.")
    membership, org = membership_row
    if org.status == ORG_SUSPENDED:
        raise OrgSuspended()
    allowed = _org_permissions(membership, org) & frozenset(key.scopes)
    principal = Principal(
        kind=PrincipalKind.API_KEY,
        user_id=creator.id,
        email=creator.email,
        org_id=org.id,
        org_name=org.name,
        role=membership.role,
        permissions=allowed,
        is_super_admin=False,
        api_key_id=key.id,
    )
    stale = key.last_used_at is None or key.last_used_at < utcnow() - LAST_USED_RESOLUTION
    return principal, (key.id if stale else None)


def record_api_key_use(session: Session, *, key_id: str) -> None:
    repo.touch_api_key(session, key_id, utcnow())
