"""Health checks of the API, the database, the rate-limit store and the local object store, and
the orchestrators' probes: live (the process answers) and ready (the database answers, its schema
not behind this code).

`/health` is what load balancers and uptime monitors poll, often many times a second from many
places, so its answer is shared: the database and cache are probed at most once per
`PROBE_INTERVAL_SECONDS` per process, and callers that arrive while a probe runs wait for that
probe instead of starting their own. `/health/detailed` probes everything live.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
from sqlalchemy import text

from dagy import __version__
from dagy.server.api.ratelimit import RateLimitStore
from dagy.server.db import migrate
from dagy.server.db.base import utcnow
from dagy.server.db.engine import Database
from dagy.server.domains.health.schemas import (
    ComponentHealth,
    HealthRead,
    LiveRead,
    MigrationState,
    OverallStatus,
    ReadyRead,
    RunIsolation,
)

log = logging.getLogger("dagy.server.health")

PROBE_INTERVAL_SECONDS = 1.0
CHECK_TIMEOUT_SECONDS = 3.0
_CRITICAL = frozenset({"api", "database"})  # without these no request can be served


class HealthMonitor:
    """One per app (`app.state.health`); holds the shared result of the last basic probe."""

    def __init__(self, *, db: Database, store: RateLimitStore, objects_dir: Path) -> None:
        self._db = db
        self._store = store
        self._objects_dir = objects_dir
        self._last: list[ComponentHealth] | None = None
        self._last_at = 0.0
        self._running: anyio.Event | None = None
        # The embedded worker's run isolation (dagy.worker.isolation.Isolation.describe()), set
        # when it starts; None: this server runs no worker.
        self.isolation: dict[str, Any] | None = None

    async def basic(self) -> HealthRead:
        return _report(await self._shared_probe())

    async def detailed(self) -> HealthRead:
        components = [
            await _timed("api", anyio.lowlevel.checkpoint),
            await self._check_database(),
            await self._check_cache(),
            await _timed("object_store", self._check_objects, backend="local"),
        ]
        if self.isolation is not None:
            components.append(
                ComponentHealth(
                    name="run_isolation", status="healthy", isolation=RunIsolation(**self.isolation)
                )
            )
        return _report(components)

    @staticmethod
    def live() -> LiveRead:
        return LiveRead(status="alive", version=__version__)

    async def ready(self) -> ReadyRead:
        """One read of the database's migration revisions (a probe polls every few seconds)."""
        head = migrate.heads()
        try:
            with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
                applied = await anyio.to_thread.run_sync(_applied, self._db, abandon_on_cancel=True)
        except Exception as exc:  # the database is down or unreachable
            log.warning("readiness check failed: %s: %s", type(exc).__name__, exc)
            return ReadyRead(
                status="not_ready",
                database="unhealthy",
                migrations="unknown",
                revision=[],
                head=sorted(head),
                error=type(exc).__name__,
            )
        state = _migration_state(applied, head)
        return ReadyRead(
            status="not_ready" if state == "behind" else "ready",
            database="healthy",
            migrations=state,
            revision=sorted(applied),
            head=sorted(head),
        )

    async def _shared_probe(self) -> list[ComponentHealth]:
        """The last probe's result while it is fresh; otherwise one probe, awaited by every caller."""
        while True:
            if self._last is not None and time.monotonic() - self._last_at < PROBE_INTERVAL_SECONDS:
                return self._last
            if self._running is None:
                break
            await self._running.wait()  # a cancelled prober leaves a stale result: loop and probe
        self._running = running = anyio.Event()
        try:
            checked = [await self._check_database(), await self._check_cache()]
            components = [ComponentHealth(name="api", status="healthy")]
            components += [c.model_copy(update={"latency_ms": None}) for c in checked]
            self._last, self._last_at = components, time.monotonic()
        finally:
            self._running = None
            running.set()
        return components

    async def _check_database(self) -> ComponentHealth:
        return await _timed("database", self._select_one)

    async def _select_one(self) -> None:
        await anyio.to_thread.run_sync(_select_one, self._db, abandon_on_cancel=True)

    async def _check_cache(self) -> ComponentHealth:
        return await _timed("cache", self._store.ping, backend=self._store.backend)

    async def _check_objects(self) -> None:
        await anyio.to_thread.run_sync(_write_probe_file, self._objects_dir, abandon_on_cancel=True)


def _select_one(db: Database) -> None:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _applied(db: Database) -> frozenset[str]:
    with db.engine.connect() as conn:
        return migrate.applied(conn)


def _migration_state(applied: frozenset[str], head: frozenset[str]) -> MigrationState:
    """at_head; ahead when the database holds a revision this code does not know (a newer
    release migrated first); else behind (an older revision of this code's, or none)."""
    if applied == head:
        return "at_head"
    if applied and not all(migrate.known(revision) for revision in applied):
        return "ahead"
    return "behind"


def _write_probe_file(folder: Path) -> None:
    """The local object store works when its folder exists (made on first use) and takes a file."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".health-") as probe:
        probe.write(b"ok")
        probe.flush()


async def _timed(
    name: str, check: Callable[[], Awaitable[None]], *, backend: str | None = None
) -> ComponentHealth:
    started = time.perf_counter()
    try:
        with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
            await check()
    except Exception as exc:  # any failure makes the component unhealthy
        log.warning("health check of %s failed: %s: %s", name, type(exc).__name__, exc)
        return ComponentHealth(
            name=name,
            status="unhealthy",
            latency_ms=_ms_since(started),
            backend=backend,
            error=type(exc).__name__,
        )
    return ComponentHealth(name=name, status="healthy", latency_ms=_ms_since(started), backend=backend)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _report(components: list[ComponentHealth]) -> HealthRead:
    failed = {c.name for c in components if c.status != "healthy"}
    status: OverallStatus = "unhealthy" if failed & _CRITICAL else "degraded" if failed else "healthy"
    return HealthRead(status=status, version=__version__, components=components, timestamp=utcnow())
