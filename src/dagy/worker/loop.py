"""The claim loop: long-poll the server for runs while there are free slots, supervise each one.

Stopping (SIGTERM, Ctrl-C, server shutdown) stops claiming, gives running runs `drain_seconds` to
finish, then stops their processes without reporting: their leases expire and the reaper
re-queues them for another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx

from dagy.client import ApiError, WorkerApi
from dagy.worker.config import WorkerConfig
from dagy.worker.isolation import Isolation, establish, log_level
from dagy.worker.processes import Launcher
from dagy.worker.supervisor import RunSupervisor

log = logging.getLogger("dagy.worker")

PERSISTENT_FAILURE_BACKOFF = 1.6
MAX_BACKOFF_SECONDS = 5.0
T = TypeVar("T")


class Worker:
    def __init__(
        self,
        config: WorkerConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        isolation: Isolation | None = None,
    ) -> None:
        """`isolation`: established by the caller; None: established from `config.isolation` when
        the worker starts (IsolationUnavailable when strict cannot be had)."""
        self.config = config
        self.api = WorkerApi(config.url, config.token, transport=transport)
        self._active: set[asyncio.Task[None]] = set()
        self.isolation = isolation
        self.launcher = Launcher(config)

    async def run(self, stop: asyncio.Event) -> None:
        log.info(
            "worker %s: executor %s, %d slots, server %s",
            self.config.worker_id,
            self.config.executor,
            self.config.concurrency,
            self.config.url,
        )
        if self.isolation is None:
            self.isolation = await asyncio.to_thread(
                establish, self.config.isolation, hidden=self.config.private_paths, python=self.config.python
            )
            log_level(self.isolation, f"worker {self.config.worker_id}")
        self.launcher.isolation = None if self.isolation.level == "off" else self.isolation
        self.launcher.prepare()
        try:
            await self._claim_loop(stop)
        finally:
            await self._drain()
            await self.launcher.close()
            await self.api.aclose()

    async def _claim_loop(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            free = self.config.concurrency - len(self._active)
            if free <= 0:
                await _first_of(
                    stop.wait(), asyncio.wait(set(self._active), return_when=asyncio.FIRST_COMPLETED)
                )
                continue
            try:
                claim = await _first_of(
                    stop.wait(),
                    self.api.claim(
                        worker_id=self.config.worker_id,
                        executor=self.config.executor,
                        capacity=free,
                        wait_seconds=self.config.claim_wait_seconds,
                        concurrency=self.config.concurrency,
                        isolation=self.isolation.level if self.isolation is not None else None,
                    ),
                )
            except (httpx.HTTPError, ApiError) as exc:
                # The first quick retries cover a server that is starting or stopping (the embedded
                # worker starts before its server listens); a failure that persists is worth a warning.
                level = logging.WARNING if backoff >= PERSISTENT_FAILURE_BACKOFF else logging.DEBUG
                log.log(level, "claim failed (%s); retrying in %.1fs", exc, backoff)
                await _first_of(stop.wait(), asyncio.sleep(backoff))
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            backoff = 0.2
            if claim is None:  # stopped while waiting
                return
            for run in claim.runs:
                supervisor = RunSupervisor(self.api, self.config, run, claim.heartbeat_seconds, self.launcher)
                task = asyncio.create_task(supervisor.execute(), name=f"run-{run.run_id}")
                self._active.add(task)
                task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._active.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("supervising %s failed", task.get_name(), exc_info=task.exception())

    async def _drain(self) -> None:
        if not self._active:
            return
        log.info("waiting up to %.0fs for %d running run(s)", self.config.drain_seconds, len(self._active))
        _done, pending = await asyncio.wait(set(self._active), timeout=max(self.config.drain_seconds, 0))
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _first_of(stop: Coroutine[Any, Any, Any], work: Coroutine[Any, Any, T]) -> T | None:
    """Await `work` unless `stop` finishes first (then `work` is cancelled and None answered)."""
    stop_task = asyncio.ensure_future(stop)
    work_task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({stop_task, work_task}, return_when=asyncio.FIRST_COMPLETED)
    for task in (stop_task, work_task):
        if task not in done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return work_task.result() if work_task in done else None
