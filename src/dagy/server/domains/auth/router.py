"""`/auth/login`, `/auth/logout`, `/auth/invitations/accept`, `/auth/oidc/*`, `/me`, `/users/me`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from dagy.server.api.deps import SettingsDep, Tx
from dagy.server.api.security import AnonymousActor, CurrentActor
from dagy.server.domains.auth import service
from dagy.server.domains.auth.oidc import OidcProvider
from dagy.server.domains.auth.oidc_state import COOKIE_NAME, COOKIE_PATH, MAX_RETURN_TO, STATE_TTL_SECONDS
from dagy.server.domains.auth.schemas import (
    InvitationAccept,
    LoginRequest,
    MeRead,
    OidcCallbackQuery,
    TokenRead,
    UserMeRead,
)
from dagy.server.errors import DagyError, NotFound
from dagy.server.settings import AuthMode

router = APIRouter(tags=["Authentication"])
# The web app's page that stores a single sign-on's token (web/src/pages/SignIn.tsx).
WEB_SIGN_IN = "/login"
_NO_STORE = {"cache-control": "no-store", "referrer-policy": "no-referrer"}


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


async def _oidc_provider(request: Request, settings: SettingsDep) -> OidcProvider:
    """The app's provider client, made on first use (it keeps the discovery document and JWKS)."""
    if settings.auth_mode != AuthMode.OIDC:
        raise NotFound("Single sign-on is off on this server (DAGY_AUTH_MODE is not oidc).")
    provider: OidcProvider | None = getattr(request.app.state, "oidc_provider", None)
    if provider is None:
        provider = request.app.state.oidc_provider = OidcProvider(settings)
    return provider


Provider = Annotated[OidcProvider, Depends(_oidc_provider)]


@router.get("/auth/oidc/login", status_code=302, response_class=RedirectResponse)
async def oidc_login(
    provider: Provider, return_to: Annotated[str | None, Query(max_length=MAX_RETURN_TO)] = None
) -> Response:
    """Start single sign-on: a redirect to the identity provider. Public; `oidc` mode only.
    `return_to` is the web app's path to open once signed in."""
    started = await provider.start(return_to=return_to)
    response = RedirectResponse(started.url, status_code=302, headers=_NO_STORE)
    response.set_cookie(
        COOKIE_NAME,
        started.cookie,
        max_age=STATE_TTL_SECONDS,
        path=COOKIE_PATH,
        secure=provider.redirect_url.startswith("https:"),
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/auth/oidc/callback", status_code=302, response_class=RedirectResponse)
async def oidc_callback(
    *,
    answer: Annotated[OidcCallbackQuery, Query()],
    request: Request,
    provider: Provider,
    tx: Tx,
    actor: AnonymousActor,
    settings: SettingsDep,
) -> Response:
    """Where the identity provider sends the browser back: the session token `POST /auth/login`
    would issue, handed to the web app in the URL fragment of `/login`. Public; `oidc` mode only."""
    cleared = _cleared_cookie()
    try:
        identity = await provider.finish(sealed=request.cookies.get(COOKIE_NAME), answer=answer)
        token = await tx.write(
            service.login_with_verified_email, actor=actor, email=identity.email, settings=settings
        )
    except DagyError as exc:  # the sign-in is over either way: its cookie goes
        exc.headers["set-cookie"] = cleared
        raise
    fragment = urlencode(
        {
            "access_token": token.access_token,
            "expires_at": token.expires_at.isoformat(),
            "return_to": identity.return_to,
        }
    )
    response = RedirectResponse(f"{WEB_SIGN_IN}#{fragment}", status_code=302, headers=_NO_STORE)
    response.headers["set-cookie"] = cleared
    return response


def _cleared_cookie() -> str:
    """The `Set-Cookie` header that removes the sign-in cookie."""
    response = Response()
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, httponly=True, samesite="lax")
    return response.headers["set-cookie"]


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
