"""One claimed run: its subprocess, its heartbeats, its logs and node runs, its limits, its result.

The run executes in its own process (forked from the worker's template process, or a fresh
`python -m dagy.runtime`; see processes.py), in its own session and process group, so stopping it
(cancel, lease lost, limits, shutdown) stops everything it started. Logs and node runs are
forwarded in batches; a 409 from any write means the lease was lost: the process is stopped and
nothing more is reported, because another attempt owns the run now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from dagy.client import ApiError, LeaseLost, WorkerApi
from dagy.client.workers import api_base_url
from dagy.nodes.vectordb import org_folder_name
from dagy.protocol import ClaimedRun, ObjectsApi, RunPayload, Waiting
from dagy.protocol.models import MAX_LOG_LINES, problems
from dagy.runtime import LOG, NODE, RESULT, parse_event
from dagy.runtime.limits import limits_for
from dagy.runtime.objects import data_prefix, flows_prefix, run_objects_prefix
from dagy.runtime.redaction import Redactor
from dagy.tracing import LEASE_LOST, attempt_trace
from dagy.worker.cgroups import RunCgroup, memory_cgroups, pids_cgroups
from dagy.worker.config import WorkerConfig
from dagy.worker.processes import (
    ForkedProcess,
    Launcher,
    RunProcess,
    descendants,
    kill_group,
    kill_processes,
)
from dagy.worker.reports import Reports
from dagy.worker.watchdog import MB, Breach, watch

log = logging.getLogger("dagy.worker")

ARTIFACT_FILE = "artifact.zip"
Outcome = Literal["completed", "failed", "cancelled", "waiting"]
BOUNDARY_PROCESSES = 2  # an isolated run's outer process and its PID namespace's init, at most
RLIMIT_SLACK = 16  # RLIMIT_NPROC above the pids cgroup's limit (the cgroup says when it was met)


class RunSupervisor:
    def __init__(
        self,
        api: WorkerApi,
        config: WorkerConfig,
        run: ClaimedRun,
        heartbeat_seconds: float,
        launcher: Launcher | None = None,
    ) -> None:
        self.api = api
        self.config = config
        self.run = run
        self.heartbeat_seconds = heartbeat_seconds
        self.launcher = launcher or Launcher(config)
        self.lease_lost = False
        self.cancel_requested = False
        self.result: dict[str, Any] | None = None
        self.waiting: Waiting | None = None  # what an attempt that ended `waiting` waits for
        self.breach: Breach | None = None
        self.limits = {
            **limits_for(run.execution_mode),
            **run.limits.model_dump(),
            **config.mode_limits.get(run.execution_mode, {}),
        }
        # The host's settings, with the embedded vector store's folder as the worker names it (a
        # run's HOME is its scratch folder).
        self.host_settings = config.host_settings.model_copy(
            update={"vector_dir": str(Path(config.host_settings.vector_dir).expanduser())}
        )
        self.redact = Redactor([*run.secrets.values(), run.objects_token, *self.host_settings.credentials()])
        self.reports = Reports(self.redact, config.log_max_bytes)
        self._stderr_tail: list[str] = []
        self._process: asyncio.subprocess.Process | ForkedProcess | None = None
        self._finished = asyncio.Event()  # the process ended: the flusher sends what is left and stops
        self._stopper: asyncio.Task[None] | None = None
        self._pids: RunCgroup | None = None
        self._pids_limit_hit = False
        self._started = time.monotonic()  # when the attempt's process was taken
        self.trace = attempt_trace(config.tracing, run, config.worker_id)  # spans, when the worker traces

    @property
    def _ids(self) -> dict[str, Any]:
        return {"worker_id": self.config.worker_id, "attempt": self.run.attempt}

    async def execute(self) -> None:
        """Run to the end and report, unless the lease is lost. Cancelling this coroutine (worker
        shutdown) stops the process and reports nothing: the lease expires and the run is re-queued."""
        started = await self.launcher.take(**self._grants())
        process = self._process = started.process
        # Before the payload: no user code has run yet, and what the process forks stays inside.
        cgroup = self._memory_cgroup(process.pid)
        self._pids = self._pids_cgroup(process.pid)
        self._started = time.monotonic()
        self.reports.add_log(
            f"[INFO] Attempt {self.run.attempt} started on worker {self.config.worker_id} "
            f"(execution mode {self.run.execution_mode})"
        )
        try:
            try:
                await self._send_payload(started)
            except (httpx.HTTPError, ApiError) as exc:
                await self._fail_to_start(exc)
                return
            heartbeats = asyncio.create_task(self._heartbeats())
            flushes = asyncio.create_task(self._flushes())
            limits = asyncio.create_task(
                self._enforce_limits(process.pid, own_uid=started.own_uid, sample_memory=cgroup is None)
            )
            try:
                assert process.stdout is not None and process.stderr is not None
                await asyncio.gather(self._read_stdout(process.stdout), self._read_stderr(process.stderr))
                returncode = await process.wait()
            finally:
                heartbeats.cancel()
                limits.cancel()
                self._finished.set()
                await asyncio.gather(heartbeats, flushes, limits, return_exceptions=True)
                if process.returncode is None:
                    await self.stop_process()
        finally:
            await started.discard()
            if cgroup is not None:
                self._note_oom_kill(cgroup)
                cgroup.remove()
            if self._pids is not None:
                self._pids_limit_hit = self._pids.pids_limit_hit()
                self._pids.remove()
        if not self.lease_lost:
            await self._report(returncode)

    def _memory_cgroup(self, pid: int) -> RunCgroup | None:
        """The run's process in a cgroup of its own limited to the execution mode's memory, where
        the host allows it (cgroups.py); the RSS sampler watches either way."""
        memory_mb = float(self.limits.get("memory_mb") or 0)
        cgroups = memory_cgroups() if memory_mb > 0 and self.config.memory_cgroups else None
        if cgroups is None:
            return None
        name = f"{self.run.run_id}-{self.run.attempt}"
        return cgroups.limit(name, pid, int(memory_mb * MB))

    def _grants(self) -> dict[str, Any]:
        """What the run's boundary lets it reach besides its scratch: on the embedded worker, its
        org's objects (data and its own run folder writable, flow artifacts and the org's run
        folders readable); the org's folder of the embedded vector store; its process limit."""
        run, read_only, writable = self.run, [], []
        if self.config.objects_dir:
            root = self.config.objects_dir.rstrip("/")
            writable += [
                f"{root}/{data_prefix(run.org_id)}",
                f"{root}/{run_objects_prefix(run.org_id, run.run_id)}",
            ]
            read_only += [f"{root}/{flows_prefix(run.org_id)}", f"{root}/{run_objects_prefix(run.org_id)}"]
        writable.append(str(Path(self.host_settings.vector_dir) / org_folder_name(run.org_id)))
        max_processes = int(self.limits.get("max_processes") or 0)
        if max_processes and self.config.memory_cgroups and pids_cgroups() is not None:
            # The run's pids cgroup enforces the limit and says when it was met; the rlimit stays
            # a little above it as the backstop.
            max_processes += RLIMIT_SLACK
        return {
            "read_only": tuple(path.rstrip("/") for path in read_only),
            "writable": tuple(path.rstrip("/") for path in writable),
            "max_processes": max_processes,
        }

    def _pids_cgroup(self, pid: int) -> RunCgroup | None:
        """The run's processes and threads limited by the kernel where the host allows it (the
        boundary's own processes, at most two, are counted too)."""
        max_processes = int(self.limits.get("max_processes") or 0)
        cgroups = pids_cgroups() if max_processes > 0 and self.config.memory_cgroups else None
        if cgroups is None:
            return None
        return cgroups.limit(f"{self.run.run_id}-{self.run.attempt}", pid, max_processes + BOUNDARY_PROCESSES)

    def _note_oom_kill(self, cgroup: RunCgroup) -> None:
        """The kernel stopped the run at its cgroup's limit: a memory breach, as the sampler's."""
        if self.breach is None and not self.cancel_requested and cgroup.oom_killed():
            memory_mb = float(self.limits.get("memory_mb") or 0)
            self.breach = Breach(
                "memory",
                f"The run reached its execution mode's {memory_mb:g} MB of memory and was stopped by "
                "the kernel.",
            )
            log.warning("run %s: %s", self.run.run_id, self.breach.message)

    async def _send_payload(self, started: RunProcess) -> None:
        artifact_path = None
        if self.run.artifact:
            dest = Path(started.workdir) / ARTIFACT_FILE
            await self.api.download_artifact(self.run.run_id, **self._ids, dest=dest)
            artifact_path = str(dest)
        payload = self._payload(artifact_path)
        stdin = started.process.stdin
        assert stdin is not None
        # A process that died waiting is reported by its exit code (`crashed`), as after any start.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.write(payload.model_dump_json().encode())
            await stdin.drain()
            stdin.close()
        log.info("run %s attempt %d started (pid %d)", self.run.run_id, self.run.attempt, started.process.pid)

    async def _fail_to_start(self, exc: httpx.HTTPError | ApiError) -> None:
        """The code flow's artifact could not be fetched: the run fails without starting."""
        if isinstance(exc, LeaseLost):
            return
        error = {
            "type": "artifact_unavailable",
            "message": f"The code flow's artifact could not be fetched: {exc}",
        }
        with contextlib.suppress(httpx.HTTPError, ApiError):
            await self.api.complete(self.run.run_id, **self._ids, status="failed", output=None, error=error)

    def _payload(self, artifact_path: str | None) -> RunPayload:
        """Without the server's folder, the run reaches the object store over HTTP with the claim's
        object token (never the worker's credential, which may serve every org)."""
        config = self.config
        remote = not config.objects_dir and bool(self.run.objects_token)
        objects_api = ObjectsApi(url=api_base_url(config.url), worker_id=config.worker_id)
        return RunPayload(
            claim=self.run,
            host_settings=self.host_settings,
            max_parallel_nodes=config.max_parallel_nodes,
            log_max_bytes=config.log_max_bytes,
            objects_dir=config.objects_dir,
            objects_api=objects_api if remote else None,
            artifact_path=artifact_path,
        )

    async def stop_process(self, *, grace: float | None = None) -> None:
        """SIGTERM the run's process group; after the grace period (or once the run's process
        ended) SIGKILL what is left of the group, children that ignore SIGTERM included."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        grace = self.config.stop_grace_seconds if grace is None else grace
        # Taken before anything ends: once the run's process dies its descendants are re-parented
        # and can no longer be found from it.
        below = descendants(process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM if grace > 0 else signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), grace)
        kill_group(process.pid)
        kill_processes([*below, *descendants(process.pid)])
        await process.wait()

    async def _enforce_limits(self, pid: int, *, own_uid: bool, sample_memory: bool) -> None:
        """Wall time always; memory by sampling only where the run has no memory cgroup (the kernel
        enforces that one exactly, and a sum of resident sizes counts shared pages once per
        process: 200 `sleep`s would look like 200 MB)."""
        limits = self.limits if sample_memory else {k: v for k, v in self.limits.items() if k != "memory_mb"}
        breach = await watch(pid, limits, poll_seconds=self.config.memory_poll_seconds, own_uid=own_uid)
        if self.cancel_requested or self.lease_lost:
            return
        self.breach = breach
        log.warning("run %s: %s", self.run.run_id, breach.message)
        # Memory keeps growing: kill at once. Out of time: the usual grace to clean up.
        await self.stop_process(grace=0 if breach.kind == "memory" else None)

    async def _read_stdout(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = raw.decode(errors="replace").rstrip("\n")
            event = parse_event(line)
            if event is None:
                self.reports.add_raw_log(line)
            elif event["event"] == LOG:
                self.reports.add_log_event(event)
            elif event["event"] == NODE:
                self.reports.add_node_event(event, size=len(raw))
                self.trace.node(event)
            elif event["event"] == RESULT:
                self.result = event
            self.reports.trim()

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = self.redact(raw.decode(errors="replace").rstrip("\n"))
            self._stderr_tail = [*self._stderr_tail[-19:], line]
            self.reports.add_raw_log(line)
            self.reports.trim()

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
        self.trace.end(LEASE_LOST)
        await self.stop_process()

    async def _flushes(self) -> None:
        """Every flush interval until the process ends (`_report` sends the rest); never cancelled
        mid-request, so no batch is sent twice."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._finished.wait(), self.config.log_flush_seconds)
            if self._finished.is_set():
                return
            await self._flush()

    async def _flush(self) -> None:
        """Send buffered node runs and log lines; keep them for the next try when the server is away."""
        reports = self.reports
        try:
            while reports.node_runs:
                nodes = reports.next_node_batch()
                await self._send(self.api.report_node_runs, node_runs=nodes)
                del reports.node_runs[: len(nodes)]
            while reports.logs:
                lines = reports.logs[: self.config.log_batch_lines]
                await self._send(self.api.send_logs, lines=lines)
                del reports.logs[: len(lines)]
        except LeaseLost:
            await self._lose_lease()
        except (httpx.HTTPError, ApiError) as exc:
            log.warning("sending logs of run %s failed: %s", self.run.run_id, exc)

    async def _send(self, call: Any, **batch: Any) -> None:
        """A batch the server refuses for good (4xx other than 409) is dropped, not retried forever."""
        try:
            await call(self.run.run_id, **self._ids, **batch)
        except LeaseLost:
            raise
        except ApiError as exc:
            if exc.retryable:
                raise
            log.error("run %s: the server refused a batch, dropped: %s", self.run.run_id, exc)

    def _outcome(self, returncode: int) -> tuple[Outcome, Any, dict[str, Any] | None]:
        if self.cancel_requested:
            return "cancelled", None, None
        if self.breach is not None:
            node_id = self.reports.last_running_node()
            error = {"type": self.breach.kind, "message": self.breach.message, "node_id": node_id}
            return "failed", None, error | {"traceback": None}
        if self.result is not None:
            return self._reported(self.result)
        return (
            "failed",
            None,
            {
                "type": "crashed",
                "message": f"The run's process exited with code {returncode} before reporting a result.",
                "stderr": "\n".join(self._stderr_tail),
            },
        )

    def _reported(self, result: dict[str, Any]) -> tuple[Outcome, Any, dict[str, Any] | None]:
        """The outcome the run's process reported (its `result` event)."""
        status, reported = result.get("status"), result.get("error")
        if status == "completed":
            return "completed", result.get("output"), None
        if status == "waiting":
            return self._waiting(result)
        if status == "failed" and isinstance(reported, dict | None):
            if self._process_limit_met(reported):
                reported = self._process_limit_error(reported)
            return "failed", None, reported
        message = f"The run's process reported a result that is not one (status {status!r})."
        return "failed", None, {"type": "invalid_result", "message": message}

    def _waiting(self, result: dict[str, Any]) -> tuple[Outcome, Any, dict[str, Any] | None]:
        """The attempt paused at an approval node: what it waits for, checked as the server will."""
        try:
            self.waiting = Waiting.model_validate(result.get("waiting_for"))
        except ValidationError as exc:
            message = f"The run's process reported an invalid wait: {problems(exc)}"
            return "failed", None, {"type": "invalid_result", "message": message[:2000]}
        return "waiting", None, None

    def _end_line(self, status: Outcome, error: dict[str, Any] | None) -> str:
        """The attempt's last line in the run's log."""
        took = f"{time.monotonic() - self._started:.3f} s"
        attempt = f"Attempt {self.run.attempt}"
        if status == "completed":
            return f"[INFO] {attempt} completed in {took}"
        if status == "cancelled":
            return f"[WARNING] {attempt} cancelled after {took}"
        if status == "waiting" and self.waiting is not None:
            return f"[INFO] {attempt} paused after {took}: node {self.waiting.node_id} waits for an approval"
        cause = error or {}
        return f"[ERROR] {attempt} failed after {took}: {cause.get('type')}: {cause.get('message')}"

    def _process_limit_met(self, error: Any) -> bool:
        """The pids cgroup counted a refused fork; without one, the run failed on EAGAIN (what a
        fork past RLIMIT_NPROC raises)."""
        if self._pids is not None:
            return self._pids_limit_hit
        message = str(error.get("message") or "") if isinstance(error, dict) else ""
        return bool(self.limits.get("max_processes")) and "[Errno 11]" in message

    def _process_limit_error(self, error: Any) -> dict[str, Any]:
        """The run failed after one of its forks (or new threads) met the limit: say so first."""
        limit = int(self.limits.get("max_processes") or 0)
        cause = error if isinstance(error, dict) else {}
        return {
            **cause,
            "type": "process_limit",
            "message": f"The run reached its execution mode's limit of {limit} processes and threads "
            f"(max_processes); then: {cause.get('message') or 'it failed'}",
        }

    async def _report(self, returncode: int) -> None:
        """The result, carrying the last node runs and log lines when they fit in its request (a
        short run's whole report: one request); what does not fit is flushed before."""
        status, output, error = self._outcome(returncode)
        self.trace.end(status, error)
        self.reports.add_log(self._end_line(status, error))
        folded = self.reports.take_last(min(self.config.log_batch_lines, MAX_LOG_LINES))
        if folded is None:
            await self._flush()
            folded = [], []
        node_runs, logs = folded
        for delay in (0.5, 1, 2, 4, 8, 0):
            try:
                final = await self.api.complete(
                    self.run.run_id,
                    **self._ids,
                    status=status,
                    output=output,
                    error=error,
                    node_runs=node_runs,
                    logs=logs,
                    waiting_for=self.waiting,
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
