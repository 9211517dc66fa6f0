"""Bodies of `/health`, `/health/detailed` and the probes `/health/live` and `/health/ready`."""

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


class LiveRead(ResponseModel):
    status: Literal["alive"] = Field(description="The process answers; nothing else is checked.")
    version: str


MigrationState = Literal["at_head", "behind", "ahead", "unknown"]


class ReadyRead(ResponseModel):
    status: Literal["ready", "not_ready"] = Field(
        description="ready: the database answers and its schema is not behind this code's migrations."
    )
    database: ComponentStatus
    migrations: MigrationState = Field(
        description="at_head; behind (this code needs migrations not applied yet: not ready); ahead "
        "(a newer release's migrations ran first, as in a rolling upgrade: still ready); unknown "
        "(the database did not answer)."
    )
    revision: list[str] = Field(description="The database's migration revisions.")
    head: list[str] = Field(description="This code's latest migration revisions.")
    error: str | None = Field(None, description="The kind of failure, when the database did not answer.")
