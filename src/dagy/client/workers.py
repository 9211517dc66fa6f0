"""The worker protocol over HTTP (`/v1/workers/...`): what `dagy worker` says to the server."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from dagy.client.errors import raise_for_error


@dataclass(frozen=True)
class ClaimedRun:
    """A run a worker holds the lease of, with everything its process needs to execute it."""

    run_id: str
    attempt: int
    org_id: str
    flow_name: str
    flow_version: str
    flow_spec: dict[str, Any]
    parameters: dict[str, Any]
    execution_mode: str
    deployment_name: str | None = None
    # Values of the secrets the flow spec (and its subflows) reference as {"secret": "name"}.
    secrets: dict[str, str] = field(default_factory=dict)
    # Variables of the deployment's environment.
    env: dict[str, str] = field(default_factory=dict)
    # node_id -> output of the nodes an earlier attempt completed: the run resumes after them.
    completed_nodes: dict[str, Any] = field(default_factory=dict)
    # "name" (latest) or "name@version" -> {"flow_name", "flow_version", "flow_spec"} for subflow nodes.
    subflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    # {"memory_mb", "timeout_seconds"} of the execution mode.
    limits: dict[str, int] = field(default_factory=dict)
    # A code flow: {"uri", "entrypoint": "module:function"}; its zip is fetched with `download_artifact`.
    artifact: dict[str, str] | None = None
    # node_type -> "module:Class" of the org's custom node types the specs use.
    custom_nodes: dict[str, str] = field(default_factory=dict)
    # The credential of this attempt's process for the object routes (`/workers/runs/{id}/objects`):
    # a run on a worker without the server's folder reaches the object store with it.
    objects_token: str | None = field(default=None, repr=False)


# The server takes at most 2,000 node-run reports per request; larger buffers go in several requests.
NODE_RUN_BATCH = 1000
MAX_LOG_LINES = 1000  # log lines the server takes in one request
DOWNLOAD_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Claim:
    runs: list[ClaimedRun]
    heartbeat_seconds: float
    lease_seconds: float


def api_base_url(url: str) -> str:
    """`http://host:8080`, with or without `/v1`, becomes the API's base URL."""
    base = url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


class WorkerApi:
    """One HTTP client per worker; `transport` lets an in-process worker speak to an ASGI app.

    `token` is the installation's worker token (every org's runs) or an org's API key (that org's).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=api_base_url(url),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "dagy-worker"},
            transport=transport,
            timeout=timeout,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        response = await self._http.post(path, json=body, timeout=timeout or self._timeout)
        raise_for_error(response)
        result: dict[str, Any] = response.json()
        return result

    async def claim(self, *, worker_id: str, executor: str, capacity: int, wait_seconds: float) -> Claim:
        body = {
            "worker_id": worker_id,
            "executor": executor,
            "capacity": capacity,
            "wait_seconds": wait_seconds,
        }
        answer = await self._post("/workers/claim", body, timeout=wait_seconds + self._timeout)
        runs = [
            ClaimedRun(
                run_id=r["run_id"],
                attempt=r["attempt"],
                org_id=r["org_id"],
                flow_name=r["flow_name"],
                flow_version=r["flow_version"],
                flow_spec=r.get("flow_spec") or {},
                parameters=r["parameters"],
                execution_mode=r["execution_mode"],
                deployment_name=r.get("deployment_name"),
                secrets=r.get("secrets") or {},
                env=r.get("env") or {},
                completed_nodes=r.get("completed_nodes") or {},
                subflows=r.get("subflows") or {},
                limits=r.get("limits") or {},
                artifact=r.get("artifact"),
                custom_nodes=r.get("custom_nodes") or {},
                objects_token=r.get("objects_token"),
            )
            for r in answer["runs"]
        ]
        return Claim(
            runs=runs, heartbeat_seconds=answer["heartbeat_seconds"], lease_seconds=answer["lease_seconds"]
        )

    async def heartbeat(self, run_id: str, *, worker_id: str, attempt: int) -> bool:
        """Extend the lease; answer whether the run's cancellation was requested."""
        answer = await self._post(
            f"/workers/runs/{run_id}/heartbeat", {"worker_id": worker_id, "attempt": attempt}
        )
        return bool(answer["cancel_requested"])

    async def send_logs(
        self, run_id: str, *, worker_id: str, attempt: int, lines: list[dict[str, str]]
    ) -> None:
        body = {"worker_id": worker_id, "attempt": attempt, "lines": lines}
        await self._post(f"/workers/runs/{run_id}/logs", body)

    async def report_node_runs(
        self, run_id: str, *, worker_id: str, attempt: int, node_runs: list[dict[str, Any]]
    ) -> None:
        """Report node runs in order, `NODE_RUN_BATCH` per request. Repeating a report is harmless: a
        finished node keeps its first result."""
        for start in range(0, len(node_runs), NODE_RUN_BATCH):
            chunk = node_runs[start : start + NODE_RUN_BATCH]
            body = {"worker_id": worker_id, "attempt": attempt, "node_runs": chunk}
            await self._post(f"/workers/runs/{run_id}/nodes", body)

    async def download_artifact(self, run_id: str, *, worker_id: str, attempt: int, dest: Path) -> Path:
        """Stream the run's code artifact (a zip) to `dest`; a partial file is removed on failure."""
        params = {"worker_id": worker_id, "attempt": attempt}
        try:
            async with self._http.stream(
                "GET", f"/workers/runs/{run_id}/artifact", params=params
            ) as response:
                if response.is_error:
                    await response.aread()
                    raise_for_error(response)
                with dest.open("wb") as file:
                    async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK_BYTES):
                        file.write(chunk)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        return dest

    async def complete(
        self,
        run_id: str,
        *,
        worker_id: str,
        attempt: int,
        status: str,
        output: Any,
        error: dict[str, Any] | None,
        node_runs: list[dict[str, Any]] | None = None,
        logs: list[dict[str, str]] | None = None,
    ) -> str:
        """Report the attempt's result, with its last node runs and log lines (at most
        `NODE_RUN_BATCH` and `MAX_LOG_LINES`, within the server's request size); answer the run's
        state afterwards (`queued` when retried)."""
        body = {
            "worker_id": worker_id,
            "attempt": attempt,
            "status": status,
            "output": output,
            "error": error,
            "node_runs": node_runs or [],
            "logs": logs or [],
        }
        answer = await self._post(f"/workers/runs/{run_id}/complete", body)
        return str(answer["status"])
