"""`/auth/login`, `/auth/logout`, `/auth/invitations/accept`, `/me`, `/users/me`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from dagy.server.api.deps import SettingsDep, Tx
from dagy.server.api.security import AnonymousActor, CurrentActor
from dagy.server.domains.auth import service
from dagy.server.domains.auth.schemas import InvitationAccept, LoginRequest, MeRead, TokenRead, UserMeRead

router = APIRouter(tags=["Authentication"])


@router.post("/auth/login", response_model=TokenRead)
async def login(
    body: LoginRequest, request: Request, tx: Tx, actor: AnonymousActor, settings: SettingsDep
) -> TokenRead:
    """Create an access token. Public. In `password` mode the body also carries `password`."""
    throttle = request.app.state.login_throttle
    return await tx.run(service.login, actor=actor, data=body, settings=settings, throttle=throttle)


@router.post("/auth/invitations/accept", response_model=TokenRead)
async def accept_invitation(
    body: InvitationAccept, tx: Tx, actor: AnonymousActor, settings: SettingsDep
) -> TokenRead:
    """Redeem an invitation token: set the invitee's password and log them in. Public."""
    return await tx.run(service.accept_invitation, actor=actor, data=body, settings=settings)


@router.post("/auth/logout", status_code=204, response_class=Response)
async def logout(tx: Tx, actor: CurrentActor) -> Response:
    """Invalidate the current access token."""
    await tx.run(service.logout, actor=actor)
    return Response(status_code=204)


@router.get("/me", response_model=MeRead, tags=["User"])
async def me(actor: CurrentActor) -> MeRead:
    return service.me(actor)


@router.get("/users/me", response_model=UserMeRead, tags=["User"])
async def users_me(actor: CurrentActor) -> UserMeRead:
    return service.user_me(actor)
