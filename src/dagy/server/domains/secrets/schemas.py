"""Bodies of `/secrets`. Values travel as `SecretStr`, so a repr, log line or traceback shows
`**********`; only `SecretValueRead` reveals one, when it is serialized into the response."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer, SecretStr, StringConstraints, WithJsonSchema

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import RequestModel, ResponseModel

MAX_VALUE_BYTES = 64 * 1024
NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,128}$"
ENVIRONMENT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


def _not_only_dots(value: str) -> str:
    """`.` and `..` match the charset but cannot be addressed as a URL path segment."""
    if value.strip(".") == "":
        raise ValueError("must not consist of dots only")
    return value


def _not_empty(value: SecretStr) -> SecretStr:
    if not value.get_secret_value():
        raise ValueError("must not be empty")
    return value


SecretName = Annotated[
    str,
    StringConstraints(pattern=NAME_PATTERN),
    AfterValidator(_not_only_dots),
    Field(description="1-128 characters of A-Z a-z 0-9 _ . -"),
]
EnvironmentName = Annotated[
    str,
    StringConstraints(pattern=ENVIRONMENT_PATTERN),
    Field(description="1-64 characters of A-Z a-z 0-9 _ . -"),
]
# Length is checked by the service (413 past MAX_VALUE_BYTES), so a huge value never ends up
# inside a validation error object.
SecretValue = Annotated[
    SecretStr, AfterValidator(_not_empty), Field(description=f"1 to {MAX_VALUE_BYTES} bytes of UTF-8.")
]
# Readable in the response (and in the OpenAPI schema: not `writeOnly`), still masked in reprs.
RevealedValue = Annotated[
    SecretStr,
    PlainSerializer(lambda v: v.get_secret_value(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "description": "The decrypted value."}),
]


class SecretCreate(RequestModel):
    secret_name: SecretName
    value: SecretValue
    environment: EnvironmentName | None = None


class SecretUpdate(RequestModel):
    value: SecretValue


class SecretCreated(ResponseModel):
    secret_id: str
    secret_name: str
    environment: str | None
    created_at: Timestamp


class SecretRead(ResponseModel):
    secret_id: str
    secret_name: str
    environment: str | None
    created_at: Timestamp
    updated_at: Timestamp


class SecretList(ResponseModel):
    items: list[SecretRead]
    next_token: str | None = None


class SecretUpdated(ResponseModel):
    secret_id: str
    secret_name: str
    updated_at: Timestamp


class SecretValueRead(ResponseModel):
    secret_name: str
    value: RevealedValue
