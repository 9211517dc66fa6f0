"""The container executors' loop, one per configured executor, in the background services.

Each pass, in this order:
1. **Reconcile** every container the executor made (`backend.states()`), against its run:
   - the attempt is over (reported, re-queued, another attempt): the container is removed;
   - the user cancelled: the container is removed (Kubernetes: Foreground) and the attempt recorded
     `cancelled`, whether or not its process got to report;
   - pending or running: the lease is extended (a pod may wait minutes for its image; the container's
     own `dagy execute-run` heartbeats too once it runs);
   - failed (out of memory, past its deadline, an image that cannot be pulled, a crash): the
     attempt fails with what the orchestrator says, retried as the run's policy says, and the
     container is removed;
   - succeeded without reporting: the attempt fails (`crashed`), and the container is removed.
   A run whose container vanished is not extended, so its lease expires and the reaper re-queues it:
   no run stays `running` without a container, and no ended run leaves one behind.
2. **Launch**: claim up to the free slots (`DAGY_CONTAINER_CONCURRENCY` minus the live containers)
   of the executor's queued runs, as a worker claims, and launch one container per run with its
   payload file (the claim, secrets included, and the attempt token).

Every copy of the services may run this loop side by side: claims take rows with `SKIP LOCKED`, the
lease is held under one worker id per executor (`<executor>-launcher`) so any copy can extend or end
any container's attempt, and removing a container twice is not an error. A pass waits for a queued
run of its executor (the run-queue signal, NOTIFY across processes on PostgreSQL) or `TICK_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from asyncio import FIRST_COMPLETED
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio.to_thread
from sqlalchemy.orm import Session

from dagy.protocol import (
    ClaimedRun,
    ClaimRequest,
    ContainerPayload,
    HeartbeatRequest,
    LogLine,
    RunCompletion,
)
from dagy.server.db.base import utcnow
from dagy.server.db.engine import Database
from dagy.server.domains.runs import queue
from dagy.server.domains.runs.queue import WorkerScope
from dagy.server.domains.runs.tokens import run_attempt_token
from dagy.server.executors.containers import (
    LABEL_ATTEMPT,
    LABEL_EXECUTOR,
    LABEL_MANAGED,
    LABEL_RUN,
    MANAGED_BY,
    PAYLOAD_DIR,
    PAYLOAD_FILE,
    ContainerBackend,
    ContainerRun,
    ContainerState,
)
from dagy.server.orchestration import RunQueueSignal, RunState
from dagy.server.settings import Settings
from dagy.tracing import Tracing

log = logging.getLogger("dagy.server.executors")

TICK_SECONDS = 2.0
# What `dagy execute-run` itself takes beside the run's process (its interpreter, the HTTP client):
# the container's memory limit is the execution mode's plus this.
SUPERVISOR_MEMORY_MB = 256
# Cores of a run container by execution mode (requested and allowed).
MODE_CPUS = {"nano": 0.25, "micro": 0.5, "small": 1.0, "medium": 2.0, "large": 4.0, "xlarge": 8.0}
# Past the execution mode's wall time (which `dagy execute-run` enforces itself), what the
# orchestrator grants before it stops the container.
DEADLINE_GRACE_SECONDS = 60
_NAME_UNSAFE = re.compile(r"[^a-z0-9-]")
Ended = Literal["failed", "cancelled"]  # how the services end an attempt for its container


def launcher_id(executor: str) -> str:
    """The worker id a container executor's leases are held under, the same in every services copy."""
    return f"{executor}-launcher"


def container_name(run_id: str, attempt: int) -> str:
    """A DNS-1123 label (Kubernetes object names, container names): lower case, at most 63."""
    return f"dagy-run-{_NAME_UNSAFE.sub('-', run_id.lower())}-{attempt}"[:63]


def api_url(settings: Settings) -> str:
    """Where run containers reach the API: DAGY_CONTAINER_API_URL, else DAGY_PUBLIC_URL, else the
    server's own address (a container on the host's network)."""
    return (settings.container_api_url or settings.public_url).rstrip("/") or settings.own_url()


def failure_error(state: ContainerState) -> dict[str, Any]:
    """The attempt's error for a container the orchestrator says failed."""
    said = f" {state.message}" if state.message else ""
    if state.reason == "OOMKilled":
        return {
            "type": "memory",
            "message": f"The run's container reached its memory limit and was stopped (OOMKilled).{said}",
        }
    if state.reason == "DeadlineExceeded":
        return {
            "type": "timeout",
            "message": f"The run's container exceeded its deadline and was stopped.{said}",
        }
    code = f" with exit code {state.exit_code}" if state.exit_code is not None else ""
    return {
        "type": "container_failed",
        "message": f"The run's container failed{code} ({state.reason or 'no reason given'}).{said}",
        "reason": state.reason,
    }


@dataclass
class ContainerExecutor:
    """One container executor's passes; blocking (the loop runs them in a thread)."""

    backend: ContainerBackend
    db: Database
    settings: Settings
    tracing: Tracing | None = None  # each claimed attempt's `run.dispatch` span (dagy/tracing.py)

    @property
    def executor(self) -> str:
        return self.backend.executor

    @property
    def worker_id(self) -> str:
        return launcher_id(self.executor)

    def pass_once(self) -> int:
        """Reconcile, then launch into the free slots; answer how many runs were launched."""
        live = self.reconcile(self.backend.states())
        free = self.settings.container_concurrency - live
        return self.launch(min(free, 100)) if free > 0 else 0

    def reconcile(self, states: list[ContainerState]) -> int:
        """Act on each container as the module's docstring says; answer how many stay live."""
        if not states:
            return 0
        removals: list[str] = []
        with self.db.transaction(write=True) as session:
            for state in states:
                if not self._keep(session, state):
                    removals.append(state.name)
        for name in removals:
            self.backend.remove(name)
        return len(states) - len(removals)

    def _keep(self, session: Session, state: ContainerState) -> bool:
        scope = WorkerScope(org_id=None)
        status = queue.attempt_status(
            session, scope=scope, run_id=state.run_id, worker_id=self.worker_id, attempt=state.attempt
        )
        if status == RunState.CANCELLED:  # its process may not have reported: its nodes end here
            self._end_attempt(session, state.run_id, state.attempt, "cancelled", None)
            return False
        if status != RunState.RUNNING:
            return False  # the attempt is over (reported, or another attempt): its container goes
        if state.phase in ("pending", "running"):
            queue.heartbeat(
                session,
                scope=scope,
                run_id=state.run_id,
                data=HeartbeatRequest(worker_id=self.worker_id, attempt=state.attempt),
                lease_seconds=self.settings.queue.lease_seconds,
            )
            return True
        if state.phase == "failed":
            error = failure_error(state)
        else:
            error = {"type": "crashed", "message": "The run's container ended without reporting a result."}
        self._end_attempt(session, state.run_id, state.attempt, "failed", error)
        return False

    def _end_attempt(
        self, session: Session, run_id: str, attempt: int, status: Ended, error: dict[str, Any] | None
    ) -> None:
        """Record the attempt's end on behalf of its container, with one line in the run's log."""
        if error is None:
            line = f"[WARNING] Attempt {attempt} cancelled: its container was removed"
        else:
            line = f"[ERROR] Attempt {attempt} failed: {error['type']}: {error['message']}"
        log.info("%s: run %s attempt %d %s", self.executor, run_id, attempt, status)
        queue.complete_run(
            session,
            scope=WorkerScope(org_id=None),
            run_id=run_id,
            data=RunCompletion(
                worker_id=self.worker_id,
                attempt=attempt,
                status=status,
                output=None,
                error=error,
                logs=[LogLine(timestamp=utcnow(), message=line)],
            ),
        )

    def launch(self, capacity: int) -> int:
        with self.db.transaction(write=True) as session:
            claimed = queue.claim_runs(
                session,
                scope=WorkerScope(org_id=None),
                data=ClaimRequest(
                    worker_id=self.worker_id,
                    executor=self.executor,
                    capacity=capacity,
                    concurrency=self.settings.container_concurrency,
                ),
                lease_seconds=self.settings.queue.lease_seconds,
                settings=self.settings,
                tracing=self.tracing,
            )
        for run in claimed:
            self._launch_one(run)
        return len(claimed)

    def _launch_one(self, run: ClaimedRun) -> None:
        spec = self.container_run(run)
        try:
            self.backend.launch(spec)
        except Exception as exc:  # the orchestrator refused: the attempt fails, as the run's policy says
            log.warning("%s: launching run %s failed: %s", self.executor, run.run_id, exc)
            error = {"type": "launch_failed", "message": f"The run's container could not be launched: {exc}"}
            with self.db.transaction(write=True) as session:
                self._end_attempt(session, run.run_id, run.attempt, "failed", error)
            with contextlib.suppress(Exception):
                self.backend.remove(spec.name)

    def container_run(self, run: ClaimedRun) -> ContainerRun:
        """The container of one claimed attempt: the image, `dagy execute-run`, the payload file."""
        settings = self.settings
        payload = ContainerPayload(
            api_url=api_url(settings),
            worker_id=self.worker_id,
            token=run_attempt_token(
                settings, run_id=run.run_id, attempt=run.attempt, worker_id=self.worker_id
            ),
            heartbeat_seconds=settings.queue.heartbeat_seconds,
            claim=run,
            host_settings=settings.host_settings(),
            max_parallel_nodes=settings.max_parallel_nodes,
            log_max_bytes=settings.run_log_max_bytes,
        )
        return ContainerRun(
            name=container_name(run.run_id, run.attempt),
            run_id=run.run_id,
            attempt=run.attempt,
            image=settings.container_image,
            command=("dagy", "execute-run", run.run_id, "--payload", f"{PAYLOAD_DIR}/{PAYLOAD_FILE}"),
            env={"PYTHONUNBUFFERED": "1"},
            payload=payload.model_dump_json().encode(),
            memory_mb=run.limits.memory_mb + SUPERVISOR_MEMORY_MB,
            cpu=MODE_CPUS.get(run.execution_mode, MODE_CPUS["nano"]),
            timeout_seconds=run.limits.timeout_seconds + DEADLINE_GRACE_SECONDS,
            labels={
                LABEL_MANAGED: MANAGED_BY,
                LABEL_EXECUTOR: self.executor,
                LABEL_RUN: run.run_id,
                LABEL_ATTEMPT: str(run.attempt),
            },
        )


def configured_backends(settings: Settings) -> list[Callable[[], ContainerBackend]]:
    """Factories of the container executors this installation names (their clients are imported
    only then: `dagy[kubernetes]`, `dagy[docker]`)."""
    factories: list[Callable[[], ContainerBackend]] = []
    if settings.k8s_namespace:

        def kubernetes() -> ContainerBackend:
            from dagy.server.executors.kubernetes import KubernetesBackend  # noqa: PLC0415

            return KubernetesBackend.from_settings(settings)

        factories.append(kubernetes)
    if settings.docker_url:

        def docker() -> ContainerBackend:
            from dagy.server.executors.docker import DockerBackend  # noqa: PLC0415

            return DockerBackend.from_settings(settings)

        factories.append(docker)
    return factories


async def run_container_executor(
    executor: ContainerExecutor, *, signal: RunQueueSignal | None, stop: asyncio.Event
) -> None:
    """Passes until `stop`: at once after a run of the executor is queued, else every TICK_SECONDS.
    The wake-up is registered before each pass, so a run queued during one is not missed."""
    name = executor.executor
    try:
        while not stop.is_set():
            with signal.listening(name) if signal is not None else contextlib.nullcontext() as waiter:
                try:
                    await anyio.to_thread.run_sync(executor.pass_once)
                except Exception:  # the orchestrator or the database away: the loop goes on
                    log.exception("%s executor pass failed; retrying in %.1fs", name, TICK_SECONDS)
                waits: set[asyncio.Future[bool]] = {asyncio.ensure_future(stop.wait())}
                if waiter is not None:
                    waits.add(asyncio.ensure_future(waiter.wait(TICK_SECONDS)))
                _done, pending = await asyncio.wait(waits, timeout=TICK_SECONDS, return_when=FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
    finally:
        await anyio.to_thread.run_sync(executor.backend.close)
