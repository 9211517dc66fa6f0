"""Who is calling and may they: bearer tokens, API keys, the org in force, permission checks.

A resolved principal is kept in an in-process cache for `auth_cache_seconds` (default 2 s), so a
hot endpoint does not ask the database who the caller is on every request. Any change that alters
identity (logout, role change, key deletion) clears this process's cache in the same request;
other processes see it within the TTL (docs/adr/0003-principal-cache.md).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import Depends, Request

from dagy.server.db.engine import Database
from dagy.server.domains.auth import service as auth_service
from dagy.server.errors import NotFound, OrgSuspended, PermissionDenied, Unauthorized
from dagy.server.identity import Actor, Principal, PrincipalKind
from dagy.server.settings import Settings

T = TypeVar("T", bound=Callable[..., Any])

_MAX_ENTRIES = 50_000


# (token hash, X-Org-Id, X-Impersonate-Org)
CacheKey = tuple[str, str | None, str | None]


class PrincipalCache:
    """Resolved principals by (token hash, X-Org-Id, X-Impersonate-Org), with one in-flight
    resolution per key, so an expiring entry under load costs one database lookup, not one per
    waiting request."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._entries: dict[CacheKey, tuple[float, Principal]] = {}
        self._inflight: dict[CacheKey, asyncio.Future[Principal]] = {}

    def get(self, key: CacheKey) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    async def get_or_load(self, key: CacheKey, load: Callable[[], Awaitable[Principal]]) -> Principal:
        principal = self.get(key)
        if principal is not None:
            return principal
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Principal] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            principal = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            self._inflight.pop(key, None)
        future.set_result(principal)
        self.put(key, principal)
        return principal

    def put(self, key: CacheKey, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        self._entries.clear()


def authenticates(call: T) -> T:
    """Mark a dependency that resolves the caller from its bearer token: the routes that depend on
    it carry the bearer scheme in the OpenAPI schema (api/docs.py)."""
    vars(call)["authenticates"] = True  # a function attribute
    return call


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@authenticates
async def get_principal(request: Request) -> Principal:
    """The caller in the `X-Org-Id` org (or, for a super admin's session, the `X-Impersonate-Org`
    org), resolved once per request and kept on the request."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        principal = await _principal_for(request, request.headers.get("x-org-id") or None)
        request.state.principal = principal
    return principal


async def _principal_for(request: Request, org_header: str | None) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("Missing or invalid bearer token.", headers={"WWW-Authenticate": "Bearer"})
    digest = token_hash(token)
    impersonate = request.headers.get(IMPERSONATE_HEADER)
    if impersonate is not None:
        impersonate = impersonate.strip()  # an empty header is still a refused one
    cache: PrincipalCache = request.app.state.principal_cache
    state = request.app.state

    async def load() -> Principal:
        resolve = functools.partial(_resolve, impersonate=impersonate)
        return await anyio.to_thread.run_sync(resolve, state.db, state.settings, token, digest, org_header)

    return await cache.get_or_load((digest, org_header, impersonate), load)


IMPERSONATE_HEADER = "x-impersonate-org"


def _resolve(
    db: Database,
    settings: Settings,
    token: str,
    digest: str,
    org_header: str | None,
    *,
    impersonate: str | None,
) -> Principal:
    with db.transaction(write=False) as session:
        principal, touch_key_id = auth_service.resolve_principal(
            session,
            settings=settings,
            token=token,
            digest=digest,
            org_header=org_header,
            impersonate=impersonate,
        )
    if touch_key_id is not None:
        with db.transaction(write=True) as session:
            auth_service.record_api_key_use(session, key_id=touch_key_id)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@authenticates
async def get_actor(request: Request) -> Actor:
    """The caller and the request's context. The principal comes from `get_principal` called
    directly, not as a sub-dependency: FastAPI solves each sub-dependency anew (cached or not),
    which on a small list costs more than the principal cache itself."""
    return _actor(request, await get_principal(request))


def _actor(request: Request, principal: Principal) -> Actor:
    return Actor(
        principal=principal,
        ip_address=_client_ip(request),
        user_agent=(request.headers.get("user-agent") or "")[:512] or None,
        request_id=getattr(request.state, "request_id", None),
    )


async def get_anonymous_actor(request: Request) -> Actor:
    return Actor(
        principal=None,
        ip_address=_client_ip(request),
        user_agent=(request.headers.get("user-agent") or "")[:512] or None,
        request_id=getattr(request.state, "request_id", None),
    )


async def get_optional_actor(request: Request) -> Actor:
    """The caller when its bearer token resolves, otherwise an anonymous actor: for public routes
    whose answer depends on who asks (`/ui/navigation`). Not marked `authenticates`: the route
    stays public, and a stale token or an org the caller left reads as anonymous, never 401/403.
    The schema declares the bearer scheme as optional on such routes (api/docs.py)."""
    if bearer_token(request) is not None:
        try:
            return _actor(request, await get_principal(request))
        except (Unauthorized, PermissionDenied):
            pass
    return await get_anonymous_actor(request)


vars(get_optional_actor)["authenticates_optionally"] = True

CurrentActor = Annotated[Actor, Depends(get_actor)]
AnonymousActor = Annotated[Actor, Depends(get_anonymous_actor)]
OptionalActor = Annotated[Actor, Depends(get_optional_actor)]


def require_permission(permission: str) -> Callable[..., Awaitable[Principal]]:
    """The dependency a route declares: `dependencies=[Depends(require_permission("flows.write"))]`."""

    async def check(request: Request) -> Principal:
        principal = await get_principal(request)  # directly: see `get_actor`
        if principal.org_id is None:
            raise PermissionDenied("You are not a member of any organization.")
        if permission not in principal.permissions:
            raise PermissionDenied(
                f"Missing permission {permission}.", details={"required_permission": permission}
            )
        return principal

    authenticates(check)
    check.__name__ = f"require_{permission.replace('.', '_')}"
    vars(check)["permission"] = permission  # a function attribute, read by the route x role matrix test
    return check


def require_org_permission(permission: str) -> Callable[..., Awaitable[Actor]]:
    """For `/orgs/{org_id}/...`: the caller acts in the path's org, where it needs `permission`.

    An org the caller is not a member of does not exist for it (404).
    """

    async def check(request: Request, org_id: str, principal: CurrentPrincipal) -> Actor:
        if principal.org_id != org_id:
            if principal.kind != PrincipalKind.SESSION or principal.impersonating:
                raise NotFound("Organization not found.")
            try:
                principal = await _principal_for(request, org_id)
            except OrgSuspended:
                raise
            except PermissionDenied as exc:
                raise NotFound("Organization not found.") from exc
        if permission not in principal.permissions:
            raise PermissionDenied(
                f"Missing permission {permission}.", details={"required_permission": permission}
            )
        return _actor(request, principal)

    authenticates(check)
    check.__name__ = f"require_org_{permission.replace('.', '_')}"
    vars(check)["permission"] = permission  # a function attribute, read by the route x role matrix test
    return check


@authenticates
async def require_super_admin(request: Request) -> Principal:
    """The dependency of every `/admin/*` route: a super admin's login session. An API key never
    carries super admin, whoever created it."""
    principal = await get_principal(request)  # directly: see `get_actor`
    if not principal.is_super_admin or principal.kind != PrincipalKind.SESSION:
        raise PermissionDenied("Super admin access required")
    return principal


@authenticates
async def get_super_admin_actor(request: Request) -> Actor:
    """The super admin calling an `/admin/*` route, as services see it."""
    return _actor(request, await require_super_admin(request))


SuperAdmin = Annotated[Actor, Depends(get_super_admin_actor)]
