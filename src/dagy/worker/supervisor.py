"""One claimed run: its subprocess, its heartbeats, its logs and node runs, its result.

The run executes in its own process (`python -m dagy.runtime`), in its own session and process
group, so stopping it (cancel, lease lost, shutdown) stops everything it started. Logs and node
runs are forwarded in batches; a 409 from any write means the lease was lost: the process is
stopped and nothing more is reported, because another attempt owns the run now.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import tempfile
from typing import Any

import httpx

from dagy.client import ApiError, ClaimedRun, LeaseLost, WorkerApi
from dagy.runtime import LOG, NODE, RESULT, parse_event
from dagy.runtime.events import now_iso
from dagy.worker.config import WorkerConfig

log = logging.getLogger("dagy.worker")

STREAM_LIMIT = 32 * 1024 * 1024  # one event line may carry a large node output
MAX_BUFFERED_LINES = 20_000
_TOKEN_VARIABLES = ("DAGY_WORKER_TOKEN", "DAGY_TOKEN", "DAGY_API_KEY")


class RunSupervisor:
    def __init__(
        self, api: WorkerApi, config: WorkerConfig, run: ClaimedRun, heartbeat_seconds: float
    ) -> None:
        self.api = api
        self.config = config
        self.run = run
        self.heartbeat_seconds = heartbeat_seconds
        self.lease_lost = False
        self.cancel_requested = False
        self.result: dict[str, Any] | None = None
        self._logs: list[dict[str, str]] = []
        self._node_runs: list[dict[str, Any]] = []
        self._stderr_tail: list[str] = []
        self._process: asyncio.subprocess.Process | None = None
        self._finished = asyncio.Event()  # the process ended: the flusher sends what is left and stops
        self._stopper: asyncio.Task[None] | None = None

    @property
    def _ids(self) -> dict[str, Any]:
        return {"worker_id": self.config.worker_id, "attempt": self.run.attempt}

    async def execute(self) -> None:
        """Run to the end and report, unless the lease is lost. Cancelling this coroutine (worker
        shutdown) stops the process and reports nothing: the lease expires and the run is re-queued."""
        with tempfile.TemporaryDirectory(prefix=f"dagy-{self.run.run_id}-") as workdir:
            process = await self._spawn(workdir)
            heartbeats = asyncio.create_task(self._heartbeats())
            flushes = asyncio.create_task(self._flushes())
            try:
                assert process.stdout is not None and process.stderr is not None
                await asyncio.gather(self._read_stdout(process.stdout), self._read_stderr(process.stderr))
                returncode = await process.wait()
            finally:
                heartbeats.cancel()
                self._finished.set()
                await asyncio.gather(heartbeats, flushes, return_exceptions=True)
                if process.returncode is None:
                    await self.stop_process()
        if not self.lease_lost:
            await self._report(returncode)

    async def _spawn(self, workdir: str) -> asyncio.subprocess.Process:
        env = {k: v for k, v in os.environ.items() if k not in _TOKEN_VARIABLES}  # user code never sees it
        env["PYTHONUNBUFFERED"] = "1"
        self._process = await asyncio.create_subprocess_exec(
            self.config.python,
            "-m",
            "dagy.runtime",
            "--parent-pid",
            str(os.getpid()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=workdir,
            env=env,
            start_new_session=True,
            limit=STREAM_LIMIT,
        )
        payload = {
            "run_id": self.run.run_id,
            "attempt": self.run.attempt,
            "org_id": self.run.org_id,
            "flow_spec": self.run.flow_spec,
            "parameters": self.run.parameters,
        }
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(payload).encode())
        await self._process.stdin.drain()
        self._process.stdin.close()
        log.info("run %s attempt %d started (pid %d)", self.run.run_id, self.run.attempt, self._process.pid)
        return self._process

    async def stop_process(self) -> None:
        """SIGTERM the run's process group, SIGKILL it after the grace period."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), self.config.stop_grace_seconds)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()

    async def _read_stdout(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = raw.decode(errors="replace").rstrip("\n")
            event = parse_event(line)
            if event is None:
                self._add_log(line)
            elif event["event"] == LOG:
                self._logs.append({"timestamp": str(event["timestamp"]), "message": str(event["message"])})
            elif event["event"] == NODE:
                self._node_runs.append({k: v for k, v in event.items() if k != "event"})
            elif event["event"] == RESULT:
                self.result = event
            self._trim_buffer()

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = raw.decode(errors="replace").rstrip("\n")
            self._stderr_tail = [*self._stderr_tail[-19:], line]
            self._add_log(line)

    def _add_log(self, message: str) -> None:
        self._logs.append({"timestamp": now_iso(), "message": message[:16_000]})

    def _trim_buffer(self) -> None:
        """The server is unreachable and lines pile up: keep the newest, say what was dropped."""
        if len(self._logs) > MAX_BUFFERED_LINES:
            dropped = len(self._logs) - MAX_BUFFERED_LINES // 2
            self._logs = self._logs[dropped:]
            self._add_log(f"[dagy] {dropped} log lines dropped: the server could not be reached")

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                cancel = await self.api.heartbeat(self.run.run_id, **self._ids)
            except LeaseLost:
                await self._lose_lease()
                return
            except (httpx.HTTPError, ApiError) as exc:
                log.warning("heartbeat for run %s failed: %s", self.run.run_id, exc)
                continue
            if cancel and not self.cancel_requested:
                log.info("run %s: cancellation requested", self.run.run_id)
                self.cancel_requested = True
                self._stopper = asyncio.create_task(self.stop_process())

    async def _lose_lease(self) -> None:
        log.warning("run %s attempt %d lost its lease; stopping it", self.run.run_id, self.run.attempt)
        self.lease_lost = True
        await self.stop_process()

    async def _flushes(self) -> None:
        """Every flush interval until the process ends; never cancelled mid-request, so no batch is
        sent twice."""
        while not self._finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._finished.wait(), self.config.log_flush_seconds)
            await self._flush()

    async def _flush(self) -> None:
        """Send buffered node runs and log lines; keep them for the next try when the server is away."""
        try:
            if self._node_runs:
                batch = self._node_runs
                await self.api.report_node_runs(self.run.run_id, **self._ids, node_runs=batch)
                del self._node_runs[: len(batch)]
            while self._logs:
                batch = self._logs[: self.config.log_batch_lines]
                await self.api.send_logs(self.run.run_id, **self._ids, lines=batch)
                del self._logs[: len(batch)]
        except LeaseLost:
            await self._lose_lease()
        except (httpx.HTTPError, ApiError) as exc:
            log.warning("sending logs of run %s failed: %s", self.run.run_id, exc)

    def _outcome(self, returncode: int) -> tuple[str, Any, dict[str, Any] | None]:
        if self.cancel_requested:
            return "cancelled", None, None
        if self.result is not None:
            return str(self.result["status"]), self.result.get("output"), self.result.get("error")
        return (
            "failed",
            None,
            {
                "type": "crashed",
                "message": f"The run's process exited with code {returncode} before reporting a result.",
                "stderr": "\n".join(self._stderr_tail),
            },
        )

    async def _report(self, returncode: int) -> None:
        await self._flush()
        status, output, error = self._outcome(returncode)
        for delay in (0.5, 1, 2, 4, 8, 0):
            try:
                final = await self.api.complete(
                    self.run.run_id, **self._ids, status=status, output=output, error=error
                )
                log.info("run %s attempt %d: %s -> %s", self.run.run_id, self.run.attempt, status, final)
                return
            except LeaseLost:
                log.warning(
                    "run %s attempt %d: result refused, the lease was lost", self.run.run_id, self.run.attempt
                )
                return
            except (httpx.HTTPError, ApiError) as exc:
                if isinstance(exc, ApiError) and not exc.retryable:
                    log.error("run %s: result refused: %s", self.run.run_id, exc)
                    return
                log.warning("reporting run %s failed (%s); retrying", self.run.run_id, exc)
                await asyncio.sleep(delay)
