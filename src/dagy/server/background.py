"""The parts `dagy server` runs beside the API: the services loop and the embedded worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from dagy.server.app import BackgroundPart
from dagy.server.db.engine import Database
from dagy.server.db.models.identity import Org
from dagy.server.executors.containers import ContainerBackend
from dagy.server.executors.dispatch import ContainerExecutor, configured_backends, run_container_executor
from dagy.server.services.alerts import run_dispatcher, run_sla_checker
from dagy.server.services.artifact_uploads import run_upload_cleanup
from dagy.server.services.reaper import run_reaper
from dagy.server.services.retention import run_retention
from dagy.server.services.scheduler import run_scheduler
from dagy.server.services.sensors import SensorLoop, run_sensor_loop
from dagy.server.services.usage import run_usage_rollup
from dagy.server.settings import Settings, is_loopback
from dagy.worker import Worker, WorkerConfig
from dagy.worker.isolation import default_level, establish, log_level

EMBEDDED_EXECUTOR = "local"
EMBEDDED_DRAIN_SECONDS = 5.0
# uvicorn lets open requests finish before it shuts down, so the embedded worker's long poll is kept
# short: Ctrl-C stops `dagy server` within seconds. Dispatch stays instant: a queued run wakes the
# waiting claim at once whatever its length.
EMBEDDED_CLAIM_WAIT_SECONDS = 2.0
_IN_PROCESS_URL = "http://dagy.in-process"


def background_parts(
    settings: Settings, *, worker: bool, services: bool, in_process_worker: bool = False
) -> list[BackgroundPart]:
    """`services`: the reaper, the clean-up of abandoned artifact uploads, the usage roll-up, the
    retention purge, the scheduler, the sensor loop, the alert dispatcher, the SLA checker and the
    container executors the installation names (`kubernetes`, `docker`). `worker`: the embedded
    local worker, talking HTTP to this server's own URL with the worker token — or, with
    `in_process_worker`, to the app through httpx's ASGI transport (same protocol, no socket;
    tests)."""
    parts: list[BackgroundPart] = []
    if services:
        parts.append(_reaper_part(settings))
        parts.append(_upload_cleanup_part())
        parts.append(_usage_rollup_part(settings))
        parts.append(_retention_part(settings))
    if services and settings.scheduler_enabled:
        parts.append(_scheduler_part(settings))
    if services and settings.sensors_enabled:
        parts.append(_sensors_part(settings))
    if services and settings.alerts.enabled:
        parts.append(_alerts_part(settings))
    if services:
        parts.extend(_container_executor_part(settings, backend) for backend in configured_backends(settings))
    if worker:
        parts.append(_embedded_worker_part(settings, in_process=in_process_worker))
    return parts


def _reaper_part(settings: Settings) -> BackgroundPart:
    async def start(app: FastAPI) -> Callable[[], Awaitable[None]]:
        return _start_loop(
            lambda stop: run_reaper(app.state.db, interval_seconds=settings.queue.reaper_seconds, stop=stop)
        )

    return start


def _upload_cleanup_part() -> BackgroundPart:
    async def start(app: FastAPI) -> Callable[[], Awaitable[None]]:
        return _start_loop(lambda stop: run_upload_cleanup(app.state.db, app.state.artifact_store, stop=stop))

    return start


def _usage_rollup_part(settings: Settings) -> BackgroundPart:
    """The daily usage roll-ups (docs/usage-and-billing.md)."""

    async def start(app: FastAPI) -> Callable[[], Awaitable[None]]:
        return _start_loop(lambda stop: run_usage_rollup(app.state.db, settings=settings, stop=stop))

    return start


def _retention_part(settings: Settings) -> BackgroundPart:
    """The retention purge (docs/operations.md, "Retention")."""

    async def start(app: FastAPI) -> Callable[[], Awaitable[None]]:
        return _start_loop(lambda stop: run_retention(app.state.db, settings=settings, stop=stop))

    return start


def _scheduler_part(settings: Settings) -> BackgroundPart:
    async def start(app: FastAPI) -> Callable[[], Awaitable[None]]:
        return _start_loop(lambda stop: run_scheduler(app.state.db, settings=settings, stop=stop))

    return start


def _sensors_part(settings: Settings) -> BackgroundPart:
    async def start(app: FastAPI) -> Callable[[], Awaitable[None]]:
        loop = SensorLoop(app.state.db, settings)
        return _start_loop(
            lambda stop: run_sensor_loop(loop, interval_seconds=settings.sensor_tick_seconds, stop=stop)
        )

    return start


def _alerts_part(settings: Settings) -> BackgroundPart:
    """The alert dispatcher and the SLA checker (docs/alerts.md)."""

    async def start(app: FastAPI) -> Callable[[], Awaitable[None]]:
        stop_dispatcher = _start_loop(lambda stop: run_dispatcher(app.state.db, settings=settings, stop=stop))
        stop_checker = _start_loop(lambda stop: run_sla_checker(app.state.db, settings=settings, stop=stop))

        async def stop_both() -> None:
            await stop_dispatcher()
            await stop_checker()

        return stop_both

    return start


def _container_executor_part(settings: Settings, backend: Callable[[], ContainerBackend]) -> BackgroundPart:
    """A container executor's launches and reconciliation (executors/dispatch.py)."""

    async def start(app: FastAPI) -> Callable[[], Awaitable[None]]:
        made = await asyncio.to_thread(backend)
        executor = ContainerExecutor(made, app.state.db, settings, tracing=app.state.tracing)
        signal = app.state.run_queue
        return _start_loop(lambda stop: run_container_executor(executor, signal=signal, stop=stop))

    return start


def _embedded_worker_part(settings: Settings, *, in_process: bool) -> BackgroundPart:
    async def start(app: FastAPI) -> Callable[[], Awaitable[None]]:
        assert settings.worker_token is not None  # create_app() generated it into DAGY_HOME
        config = WorkerConfig(
            url=_IN_PROCESS_URL if in_process else settings.own_url(),
            token=settings.worker_token.get_secret_value(),
            executor=EMBEDDED_EXECUTOR,
            concurrency=settings.worker_concurrency,
            claim_wait_seconds=min(settings.queue.claim_wait_seconds, EMBEDDED_CLAIM_WAIT_SECONDS),
            drain_seconds=EMBEDDED_DRAIN_SECONDS,
            max_parallel_nodes=settings.max_parallel_nodes,
            log_max_bytes=settings.run_log_max_bytes,
            host_settings=settings.host_settings(),
            objects_dir=str(settings.home / "objects"),
            mode_limits=settings.execution_mode_limits,
            private_paths=_private_paths(settings),
            tracing=app.state.tracing,  # its runs' spans go out with the server's (dagy/tracing.py)
        )
        # Refuses to start (IsolationUnavailable) when strict isolation cannot be had.
        isolation = await asyncio.to_thread(
            establish, await _isolation_level(app.state.db, settings), hidden=config.private_paths
        )
        log_level(isolation, "embedded worker")
        app.state.health.isolation = isolation.describe()
        transport = httpx.ASGITransport(app=app) if in_process else None
        worker = Worker(config, transport=transport, isolation=isolation)
        return _start_loop(worker.run)

    return start


async def _isolation_level(db: Database, settings: Settings) -> str:
    """DAGY_ISOLATION, or its default: strict unless a loopback-only installation of one org."""
    if settings.isolation is not None:
        return settings.isolation
    orgs = await asyncio.to_thread(_count_orgs, db)
    return default_level(serves_many_orgs=orgs > 1, loopback_only=is_loopback(settings.host))


def _count_orgs(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Org)).scalar_one())


def _private_paths(settings: Settings) -> tuple[str, ...]:
    """What runs never see: DAGY_HOME (keys, token, database, objects) and the database's folder."""
    paths = [str(settings.home.expanduser().resolve())]
    if settings.is_sqlite:
        database = settings.database_url.split("///", 1)[-1]
        if database and database != ":memory:":
            paths.append(str(Path(database).expanduser().resolve().parent))
    return tuple(paths)


def _start_loop(loop: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> Callable[[], Awaitable[None]]:
    """Start `loop(stop)` as a task; answer the coroutine that stops it and waits for it to end."""
    stop = asyncio.Event()
    task = asyncio.create_task(loop(stop))

    async def stop_loop() -> None:
        stop.set()
        await task

    return stop_loop
