"""Request and response bodies of `/auth`, `/me` and `/users/me`."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import Email, RequestModel, ResponseModel

Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class LoginRequest(RequestModel):
    email: Email
    password: Password | None = None


class InvitationAccept(RequestModel):
    invitation_token: Annotated[str, StringConstraints(min_length=16, max_length=256)]
    password: Password


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
