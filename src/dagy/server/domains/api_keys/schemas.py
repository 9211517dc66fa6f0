"""Bodies of `/api-keys`. The full key appears in `ApiKeyCreated` only, once."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import Name, RequestModel, ResponseModel

Scope = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Environment = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{1,16}$")]


class ApiKeyCreate(RequestModel):
    name: Name
    scopes: list[Scope] = Field(
        min_length=1, max_length=64, description="Permission strings of the role matrix."
    )
    environment: Environment = Field(
        "live", description="Tag written into the key (`dagy_sk_<environment>_...`): 1-16 of [a-z0-9]."
    )


class ApiKeyRead(ResponseModel):
    key_id: str
    name: str
    key_prefix: str
    environment: str
    scopes: list[str]
    created_at: Timestamp
    last_used_at: Timestamp | None


class ApiKeyCreated(ResponseModel):
    key_id: str
    name: str
    key: str = Field(description="The full key. Shown only in this response; store it now.")
    key_prefix: str
    environment: str
    scopes: list[str]
    created_at: Timestamp
