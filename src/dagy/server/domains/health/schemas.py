"""Bodies of `/health` and `/health/detailed`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import ResponseModel

ComponentStatus = Literal["healthy", "unhealthy"]
OverallStatus = Literal["healthy", "degraded", "unhealthy"]


class RunIsolation(ResponseModel):
    requested: Literal["strict", "best", "off"] = Field(description="DAGY_ISOLATION (or its default).")
    level: Literal["strict", "partial", "off"] = Field(
        description="What runs get: strict is the full boundary (docs/isolation.md)."
    )
    features: list[str] = Field(description="Parts of the boundary runs get.")
    missing: list[str] = Field(description="Parts of the full boundary this host does not give.")
    reason: str | None = Field(None, description="Why the level is below strict.")


class ComponentHealth(ResponseModel):
    name: str = Field(description="api, database, cache, object_store or run_isolation.")
    status: ComponentStatus
    latency_ms: float | None = Field(None, description="Time the live check took (`/health/detailed`).")
    backend: str | None = Field(None, description="Which implementation: in-process, redis, local, ...")
    error: str | None = Field(None, description="The kind of failure, when unhealthy.")
    isolation: RunIsolation | None = Field(
        None, description="run_isolation (`/health/detailed`, a server with its embedded worker): the level."
    )


class HealthRead(ResponseModel):
    status: OverallStatus = Field(
        description="unhealthy when the API or database fails, degraded when another component does."
    )
    version: str
    components: list[ComponentHealth]
    timestamp: Timestamp
