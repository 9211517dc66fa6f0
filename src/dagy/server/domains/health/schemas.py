"""Bodies of `/health` and `/health/detailed`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dagy.server.api.schemas import ResponseModel, Timestamp

ComponentStatus = Literal["healthy", "unhealthy"]
OverallStatus = Literal["healthy", "degraded", "unhealthy"]


class ComponentHealth(ResponseModel):
    name: str = Field(description="api, database, cache or object_store.")
    status: ComponentStatus
    latency_ms: float | None = Field(None, description="Time the live check took (`/health/detailed`).")
    backend: str | None = Field(None, description="Which implementation: in-process, redis, local, ...")
    error: str | None = Field(None, description="The kind of failure, when unhealthy.")


class HealthRead(ResponseModel):
    status: OverallStatus = Field(
        description="unhealthy when the API or database fails, degraded when another component does."
    )
    version: str
    components: list[ComponentHealth]
    timestamp: Timestamp
