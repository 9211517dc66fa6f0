"""What a worker hands a run's process on its stdin: the claimed run and what the host adds.

The run's process holds no credential of the worker: everything it needs is here. It reaches the
object store through the server's folder (`objects_dir`, the embedded worker) or over HTTP with
the claim's object token (`objects_api`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dagy.protocol.host import HostSettings
from dagy.protocol.models import ClaimedRun

DEFAULT_MAX_PARALLEL_NODES = 4
DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024


class ObjectsApi(BaseModel):
    """The server's object routes for a run without the server's folder."""

    model_config = ConfigDict(frozen=True)

    url: str = Field(description="The API's base URL (`.../v1`).")
    worker_id: str = Field(description="The worker holding the attempt's lease.")


class RunPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claim: ClaimedRun
    host_settings: HostSettings = Field(default_factory=HostSettings)
    max_parallel_nodes: int = Field(DEFAULT_MAX_PARALLEL_NODES, ge=1)  # nodes executing at once
    log_max_bytes: int = Field(DEFAULT_LOG_MAX_BYTES, ge=0)  # the run's log past this is cut
    objects_dir: str | None = None  # the server's object store folder (embedded worker)
    objects_api: ObjectsApi | None = None
    artifact_path: str | None = None  # a code flow's zip, fetched by the worker into the scratch folder

    def credentials(self) -> list[str]:
        """What never reaches the run's log: its secret values, its object token, the host's SMTP
        password."""
        claim = self.claim
        return [*claim.secrets.values(), claim.objects_token, *self.host_settings.credentials()]

    @property
    def parameters(self) -> dict[str, Any]:
        return self.claim.parameters


class ContainerPayload(BaseModel):
    """What a run container of a container executor reads from its payload file (`dagy execute-run`):
    the claimed run, what the host adds, and how to report it — the API's URL, the worker id its
    lease is held under, and the attempt's token (the worker protocol for this attempt only)."""

    model_config = ConfigDict(extra="forbid")

    api_url: str
    worker_id: str
    token: str
    heartbeat_seconds: float = Field(gt=0)
    claim: ClaimedRun
    host_settings: HostSettings = Field(default_factory=HostSettings)
    max_parallel_nodes: int = Field(DEFAULT_MAX_PARALLEL_NODES, ge=1)
    log_max_bytes: int = Field(DEFAULT_LOG_MAX_BYTES, ge=0)
