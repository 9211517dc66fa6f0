"""`GET /v1/workers`: the fleet as the server hears it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import ResponseModel


class WorkerRead(ResponseModel):
    worker_id: str
    scope: Literal["installation", "org"] = Field(
        description="installation: the worker token, every org's runs; org: an org's API key, its runs."
    )
    executor: str
    concurrency: int = Field(description="Runs it executes at once.")
    isolation: str | None = Field(description="strict, partial or off (docs/isolation.md); null if unsaid.")
    status: Literal["online", "offline"] = Field(description="online: heard from in the last minute.")
    first_seen_at: Timestamp
    last_seen_at: Timestamp = Field(description="Its last claim or heartbeat.")


class WorkerList(ResponseModel):
    items: list[WorkerRead]
