"""The worker protocol over HTTP (`/v1/workers/...`): what `dagy worker` says to the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel

from dagy.client.errors import raise_for_error
from dagy.protocol.models import (
    MAX_NODE_RUN_REPORTS,
    Accepted,
    ClaimRequest,
    ClaimResponse,
    CompletionResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    LogBatch,
    LogLine,
    NodeRunBatch,
    NodeRunReport,
    RunCompletion,
    Waiting,
)

A = TypeVar("A", bound=BaseModel)
_JSON = {"Content-Type": "application/json"}


# The server takes at most 2,000 node-run reports per request; larger buffers go in several requests.
NODE_RUN_BATCH = MAX_NODE_RUN_REPORTS // 2
DOWNLOAD_CHUNK_BYTES = 1024 * 1024


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

    async def _post(self, path: str, body: BaseModel, answer: type[A], *, timeout: float | None = None) -> A:
        response = await self._http.post(
            path, content=body.model_dump_json(), headers=_JSON, timeout=timeout or self._timeout
        )
        raise_for_error(response)
        return answer.model_validate_json(response.content)

    async def claim(
        self,
        *,
        worker_id: str,
        executor: str,
        capacity: int,
        wait_seconds: float,
        concurrency: int | None = None,
        isolation: Literal["strict", "partial", "off"] | None = None,
    ) -> ClaimResponse:
        """Up to `capacity` runs (the free slots); `concurrency` and `isolation` say what this
        worker is (`GET /v1/workers`)."""
        body = ClaimRequest(
            worker_id=worker_id,
            executor=executor,
            capacity=capacity,
            wait_seconds=wait_seconds,
            concurrency=concurrency,
            isolation=isolation,
        )
        return await self._post("/workers/claim", body, ClaimResponse, timeout=wait_seconds + self._timeout)

    async def heartbeat(self, run_id: str, *, worker_id: str, attempt: int) -> bool:
        """Extend the lease; answer whether the run's cancellation was requested."""
        body = HeartbeatRequest(worker_id=worker_id, attempt=attempt)
        answer = await self._post(f"/workers/runs/{run_id}/heartbeat", body, HeartbeatResponse)
        return answer.cancel_requested

    async def send_logs(self, run_id: str, *, worker_id: str, attempt: int, lines: list[LogLine]) -> None:
        body = LogBatch(worker_id=worker_id, attempt=attempt, lines=lines)
        await self._post(f"/workers/runs/{run_id}/logs", body, Accepted)

    async def report_node_runs(
        self, run_id: str, *, worker_id: str, attempt: int, node_runs: list[NodeRunReport]
    ) -> None:
        """Report node runs in order, `NODE_RUN_BATCH` per request. Repeating a report is harmless: a
        finished node keeps its first result."""
        for start in range(0, len(node_runs), NODE_RUN_BATCH):
            chunk = node_runs[start : start + NODE_RUN_BATCH]
            body = NodeRunBatch(worker_id=worker_id, attempt=attempt, node_runs=chunk)
            await self._post(f"/workers/runs/{run_id}/nodes", body, Accepted)

    async def download_artifact(self, run_id: str, *, worker_id: str, attempt: int, dest: Path) -> Path:
        """Stream the run's code artifact (a zip) to `dest`; a partial file is removed on failure."""
        params: dict[str, str | int] = {"worker_id": worker_id, "attempt": attempt}
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
        status: Literal["completed", "failed", "cancelled", "waiting"],
        output: Any,
        error: dict[str, Any] | None,
        node_runs: list[NodeRunReport] | None = None,
        logs: list[LogLine] | None = None,
        waiting_for: Waiting | None = None,
    ) -> str:
        """Report the attempt's result, with its last node runs and log lines (at most
        `NODE_RUN_BATCH` and `MAX_LOG_LINES`, within the server's request size); answer the run's
        state afterwards (`queued` when retried, `running` when it waits for a decision)."""
        body = RunCompletion(
            worker_id=worker_id,
            attempt=attempt,
            status=status,
            output=output,
            error=error,
            node_runs=node_runs or [],
            logs=logs or [],
            waiting_for=waiting_for,
        )
        answer = await self._post(f"/workers/runs/{run_id}/complete", body, CompletionResponse)
        return answer.status
