"""Request and response bodies of `/auth`, `/me` and `/users/me`."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import Email, RequestModel, ResponseModel

Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class LoginRequest(RequestModel):
    email: Email
    password: Password | None = None


class InvitationAccept(RequestModel):
    invitation_token: Annotated[str, StringConstraints(min_length=16, max_length=256)]
    password: Password


class OidcCallbackQuery(BaseModel):
    """What the identity provider sends the browser back with (RFC 6749 §4.1.2): a code and the
    state, or an error. Parameters some providers add (`session_state`, `iss`, `scope`) are ignored."""

    code: str | None = Field(None, max_length=4096)
    state: str | None = Field(None, max_length=512)
    error: str | None = Field(None, max_length=256)
    error_description: str | None = Field(None, max_length=2048)


class TokenRead(ResponseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name, not a credential
    expires_at: Timestamp


class MeRead(ResponseModel):
    user_email: str | None
    org_id: str | None
    role: str | None


class UserMeRead(MeRead):
    super_admin: bool
    org_name: str | None
