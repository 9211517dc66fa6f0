"""`create_app(settings)`: routers, middleware, error handlers, state and background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import FrameType

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from dagy import __version__
from dagy.server.api.docs import api_routes, home_router, with_bearer_scheme
from dagy.server.api.errors import install_error_handlers
from dagy.server.api.metering import MeteringMiddleware
from dagy.server.api.middleware import RequestContextMiddleware
from dagy.server.api.ratelimit import MemoryStore, RateLimiter, RateLimitStore, RedisStore
from dagy.server.api.security import PrincipalCache
from dagy.server.api.traces import trace_store
from dagy.server.api.webapp import webapp_router
from dagy.server.db.engine import create_database
from dagy.server.db.migrate import upgrade
from dagy.server.domains.admin.router import router as admin_router
from dagy.server.domains.ai_studio.router import router as ai_studio_router
from dagy.server.domains.api_keys.router import router as api_keys_router
from dagy.server.domains.artifacts.router import router as artifacts_router
from dagy.server.domains.artifacts.store import artifact_store
from dagy.server.domains.audit_logs.router import router as audit_logs_router
from dagy.server.domains.auth.router import router as auth_router
from dagy.server.domains.auth.throttle import LoginThrottle
from dagy.server.domains.billing.router import router as billing_router
from dagy.server.domains.concurrency.router import router as concurrency_router
from dagy.server.domains.dag_drafts.router import router as dag_drafts_router
from dagy.server.domains.deployments.router import router as deployments_router
from dagy.server.domains.environments.router import router as environments_router
from dagy.server.domains.flows.router import router as flows_router
from dagy.server.domains.health.router import router as health_router
from dagy.server.domains.health.service import HealthMonitor
from dagy.server.domains.metrics.middleware import HttpMetricsMiddleware
from dagy.server.domains.metrics.router import router as metrics_router
from dagy.server.domains.metrics.service import metrics_registry
from dagy.server.domains.nodes.router import router as nodes_router
from dagy.server.domains.notifications.router import channels_router, rules_router
from dagy.server.domains.objects.router import router as objects_router
from dagy.server.domains.orgs.router import router as orgs_router
from dagy.server.domains.retention.router import router as retention_router
from dagy.server.domains.runs.router import router as runs_router
from dagy.server.domains.schedules.router import router as schedules_router
from dagy.server.domains.secrets.router import router as secrets_router
from dagy.server.domains.sensors.router import router as sensors_router
from dagy.server.domains.sensors.router import webhooks_router
from dagy.server.domains.ui_config.router import router as ui_config_router
from dagy.server.domains.usage.metering import UsageMeter
from dagy.server.domains.usage.router import router as usage_router
from dagy.server.domains.workers.router import router as workers_router
from dagy.server.orchestration import RunQueueSignal, listen_for_queued_runs
from dagy.server.services.usage import run_meter_flush
from dagy.server.settings import BUILT_IN_EXECUTORS, Settings
from dagy.tracing import SERVER_SERVICE, RequestSpans, start_tracing

log = logging.getLogger("dagy.server")

# A background part of the server (services loop, embedded worker): entered on start-up, exited on
# shutdown. Each receives the app so it can reach `app.state`.
BackgroundPart = Callable[[FastAPI], Awaitable[Callable[[], Awaitable[None]]]]

# Matched in order: the hottest routes (health probes, identity, the worker protocol, runs) first.
ROUTERS = [
    health_router,
    auth_router,
    workers_router,
    runs_router,
    flows_router,
    artifacts_router,
    objects_router,
    nodes_router,
    deployments_router,
    concurrency_router,
    environments_router,
    dag_drafts_router,
    orgs_router,
    api_keys_router,
    audit_logs_router,
    retention_router,
    secrets_router,
    schedules_router,
    sensors_router,
    webhooks_router,
    channels_router,
    rules_router,
    usage_router,
    billing_router,
    ui_config_router,
    ai_studio_router,
    admin_router,
]


def create_app(
    settings: Settings,
    *,
    migrate: bool = True,
    background: list[BackgroundPart] | None = None,
    metrics_dir: Path | None = None,
) -> FastAPI:
    """Build the ASGI app. `background` lists the parts `dagy server` runs beside the API;
    `metrics_dir` is the folder where the processes of `dagy server --processes N` share their HTTP
    metrics (processes.py), None for a single process."""
    settings.ensure_home()
    if migrate:
        upgrade(settings.database_url)
    db = create_database(settings.database_url)
    store: RateLimitStore = RedisStore(settings.redis_url) if settings.redis_url else MemoryStore()
    tracing = start_tracing(settings.tracing, SERVER_SERVICE)  # None when off (docs/metrics.md)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.enter_context(_stop_claims_at_exit_signals(app.state.run_queue))
            if not db.is_sqlite:  # wake-ups from the other server processes on the database
                listener = asyncio.create_task(listen_for_queued_runs(db.engine.url, app.state.run_queue))
                stack.push_async_callback(_cancelled, listener)
            stack.push_async_callback(_start_meter_flush(app))
            for part in background or []:
                stop = await part(app)
                stack.push_async_callback(stop)
            yield
        await store.close()
        db.dispose()
        if tracing is not None:  # the spans still buffered go out before the process ends
            await asyncio.to_thread(tracing.shutdown)

    app = FastAPIOffline(  # Swagger UI's assets from a package, not a CDN (api/docs.py)
        title="Dagy",
        version=__version__,
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        static_url="/v1/docs-assets",
        lifespan=lifespan,
        # FastAPI's OpenTelemetry hooks ask the providers on every request, and their spans carry raw
        # paths and query strings: Dagy's own (`RequestSpans`) carry neither.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.db = db
    app.state.artifact_store = artifact_store(settings)
    app.state.usage_meter = UsageMeter()
    app.state.principal_cache = PrincipalCache(settings.auth_cache_seconds)
    app.state.login_throttle = LoginThrottle(settings.login_failures_per_minute)
    app.state.health = HealthMonitor(db=db, store=store, objects_dir=settings.home / "objects")
    app.state.run_queue = RunQueueSignal.attached_to(db.sessions, cross_process=not db.is_sqlite)
    app.state.traces = trace_store(settings)
    app.state.tracing = tracing
    executors = (*BUILT_IN_EXECUTORS, settings.default_executor, *settings.worker_pools)
    app.state.metrics_registry, http_metrics = metrics_registry(db, executors, multiprocess_dir=metrics_dir)
    app.state.exception_recorder = app.state.traces.record
    app.state.webhook_limiter = RateLimiter(
        settings.webhook_rate_limit_per_minute,
        store,
        address_limit_per_minute=settings.rate_limit_per_address_per_minute,
    )
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix="/v1")
    app.include_router(metrics_router)  # at the root, where Prometheus scrapes; before the web app's routes
    if settings.web_dir is not None:
        app.include_router(webapp_router(settings.web_dir, settings.auth_mode or ""))
    else:
        app.include_router(home_router)
    app.openapi = with_bearer_scheme(app)  # type: ignore[method-assign]
    app.add_middleware(MeteringMiddleware, meter=app.state.usage_meter)
    app.add_middleware(
        RequestContextMiddleware,
        limiter=RateLimiter(
            settings.rate_limit_per_minute,
            store,
            address_limit_per_minute=settings.rate_limit_per_address_per_minute,
        ),
        max_body_bytes=settings.max_request_bytes,
    )
    if tracing is not None:  # nothing on the request path when tracing is off
        app.add_middleware(RequestSpans, tracing=tracing, routes=lambda: api_routes(list(app.routes)))
    app.add_middleware(HttpMetricsMiddleware, metrics=http_metrics)  # outermost: the whole answer's time
    return app


@contextlib.contextmanager
def _stop_claims_at_exit_signals(run_queue: RunQueueSignal) -> Iterator[None]:
    """When the server is told to stop (SIGTERM, Ctrl-C), uvicorn lets open requests finish for a
    few seconds and then cancels them: waiting long-poll claims are answered empty at once instead.
    The handler runs before the one it replaces (uvicorn's); only in the main thread, where signal
    handlers live (not under a test client)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}

    def stop_then_chain(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(run_queue.stop)
        prior = previous[signal.Signals(signum)]
        if callable(prior):
            prior(signum, frame)
        elif prior == signal.SIG_DFL:  # nobody else handles it: what the default would do
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    for signum in previous:
        signal.signal(signum, stop_then_chain)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _start_meter_flush(app: FastAPI) -> Callable[[], Awaitable[None]]:
    """Write the API calls and errors this process counts every `usage.flush_seconds`; the
    coroutine answered stops the loop and writes what is left (docs/usage-and-billing.md)."""
    settings: Settings = app.state.settings
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_meter_flush(
            app.state.db, app.state.usage_meter, interval_seconds=settings.usage.flush_seconds, stop=stop
        )
    )

    async def stop_flush() -> None:
        stop.set()
        await task

    return stop_flush


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
