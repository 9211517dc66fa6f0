"""Schema bases: strict requests, attribute-built responses, pages, shared field types."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, TypeVar

from annotated_types import Ge, Le
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from dagy.server.api.pagination import PageRequest

T = TypeVar("T")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RequestModel(BaseModel):
    """Every request body: unknown fields are an error, strings are stripped of nothing."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _email(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value) or _CONTROL.search(value):
        raise ValueError("must be a valid email address of at most 254 characters")
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_no_control_characters)]
Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(_email)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_token: str | None = None


def page_params(default: int = 20, maximum: int = 100) -> Callable[..., Awaitable[PageRequest]]:
    """A dependency reading `limit` (1..maximum, else 400) and `next_token`."""

    async def dependency(limit: int = default, next_token: str | None = None) -> PageRequest:
        return PageRequest(limit=limit, next_token=next_token)

    # Real objects, not strings: with postponed annotations FastAPI would evaluate `maximum`
    # in the module's globals, where it does not exist, and fail on the first `?limit=`.
    dependency.__annotations__ = {
        "limit": Annotated[int, Ge(1), Le(maximum)],
        "next_token": Annotated[str | None, StringConstraints(max_length=2048)],
        "return": PageRequest,
    }
    return dependency


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
