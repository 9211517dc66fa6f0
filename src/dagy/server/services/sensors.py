"""The sensor loop: every `sensor_tick_seconds`, the s3 and polling sensors whose check is due are
read and what is new fires (docs/sensors.md).

A tick claims up to `batch_size` due sensors in one transaction (`SKIP LOCKED` on PostgreSQL, so
several servers share the work and never check one sensor at once) and moves their next check an
interval ahead; reads their sources in a small thread pool, outside any transaction; then records
each sensor's outcome in a transaction of its own. A source that fails, or a sensor whose outcome
cannot be written, is logged and recorded as a `failed` event; the loop goes on.

`SensorLoop(db, settings, clock=...)` takes its clock from its caller and `tick()` is a plain
function, so tests drive checks at chosen times without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import anyio.to_thread

from dagy.server.db.base import utcnow
from dagy.server.db.engine import Database
from dagy.server.domains.sensors import checks
from dagy.server.settings import Settings

log = logging.getLogger("dagy.server.sensors")

BATCH_SIZE = 100
PARALLEL_READS = 8


class SensorLoop:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = BATCH_SIZE,
        parallel_reads: int = PARALLEL_READS,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.batch_size = batch_size
        self.parallel_reads = parallel_reads

    def tick(self) -> int:
        """Check the sensors due now (one batch); answer how many runs they started."""
        now = self.clock()
        with self.db.transaction(write=True) as session:
            due = checks.claim_due_checks(session, now=now, limit=self.batch_size, settings=self.settings)
        if not due:
            return 0
        with ThreadPoolExecutor(max_workers=min(self.parallel_reads, len(due))) as pool:
            observations = list(pool.map(self._observe, due))
        fired = 0
        for check, observation in zip(due, observations, strict=True):
            try:
                with self.db.transaction(write=True) as session:
                    fired += checks.record_check(
                        session, check=check, observation=observation, now=now, settings=self.settings
                    )
            except Exception:  # one sensor's trouble must not keep the others unrecorded
                log.exception("recording the check of sensor %s failed", check.sensor_id)
        return fired

    def _observe(self, check: checks.DueCheck) -> checks.Observation:
        try:
            return checks.observe(check, settings=self.settings)
        except Exception as exc:  # an unforeseen library error is the source failing, not the loop
            log.exception("reading the source of sensor %s failed", check.sensor_id)
            return checks.Observation(error=f"{type(exc).__name__}: {exc}")


async def run_sensor_loop(loop: SensorLoop, *, interval_seconds: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            fired = await anyio.to_thread.run_sync(loop.tick)
            if fired:
                log.info("sensors started %d run(s)", fired)
        except Exception:  # a database hiccup must not end the loop
            log.exception("sensor tick failed; retrying in %.1fs", interval_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_seconds)
