"""The worker protocol over HTTP (`/v1/workers/...`): what `dagy worker` says to the server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from dagy.client.errors import raise_for_error


@dataclass(frozen=True)
class ClaimedRun:
    run_id: str
    attempt: int
    org_id: str
    flow_name: str
    flow_version: str
    flow_spec: dict[str, Any]
    parameters: dict[str, Any]
    execution_mode: str


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
    """One HTTP client per worker; `transport` lets an in-process worker speak to an ASGI app."""

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
        body = {"worker_id": worker_id, "attempt": attempt, "node_runs": node_runs}
        await self._post(f"/workers/runs/{run_id}/nodes", body)

    async def complete(
        self,
        run_id: str,
        *,
        worker_id: str,
        attempt: int,
        status: str,
        output: Any,
        error: dict[str, Any] | None,
    ) -> str:
        """Report the attempt's result; answer the run's state afterwards (`queued` when retried)."""
        body = {
            "worker_id": worker_id,
            "attempt": attempt,
            "status": status,
            "output": output,
            "error": error,
        }
        answer = await self._post(f"/workers/runs/{run_id}/complete", body)
        return str(answer["status"])
