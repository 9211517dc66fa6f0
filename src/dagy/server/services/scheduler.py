"""The scheduler: every `DAGY_SCHEDULER_TICK_SECONDS`, due schedules fire (docs/schedules.md).

A tick reads the clock once and fires every schedule due at that instant, a batch per transaction
(`domains/schedules/firing.py`) until a batch comes back short. Any number of schedulers may run
against one database (`dagy server` replicas, `dagy scheduler` processes): on PostgreSQL each batch
locks its schedules with `SKIP LOCKED`, and the unique (schedule, fire time) of `schedule_fire`
turns a second attempt at the same fire time into nothing. The tick's cost follows the due
schedules (the `ix_schedule_due` index), not all of them.

Each tick also releases the fire times backfills hold (`domains/schedules/backfill.py`): as many
per backfill as it has free slots, its backfills locked with `SKIP LOCKED`, so that at most
`max_active` of a backfill's runs are queued or running whoever releases them.

The clock is injectable (`clock`), so tests and benchmarks drive time without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import anyio.to_thread
from sqlalchemy.exc import OperationalError

from dagy.server.db.base import utcnow
from dagy.server.db.engine import Database
from dagy.server.domains.schedules.backfill import RELEASE_BATCH, any_held, release_held
from dagy.server.domains.schedules.firing import BATCH_SIZE, any_due, fire_due_batch
from dagy.server.settings import Settings

log = logging.getLogger("dagy.server.scheduler")

Clock = Callable[[], datetime]
# Batches one tick writes at once on PostgreSQL: their round trips overlap (the engine's pool has 10).
POSTGRES_PARALLEL_BATCHES = 4
_ATTEMPTS = 3
_RETRIED_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure


@dataclass
class TickResult:
    schedules: int = 0
    queued: int = 0
    skipped: int = 0
    refused: int = 0
    batches: int = 0
    released: int = 0  # held backfill fire times queued


def tick(db: Database, *, settings: Settings, now: datetime, batch_size: int = BATCH_SIZE) -> TickResult:
    """Fire every schedule due at `now` (`fire_due`), then release what backfills hold."""
    total = fire_due(db, settings=settings, now=now, batch_size=batch_size)
    total.released = release_backfills(db, settings=settings)
    return total


def release_backfills(db: Database, *, settings: Settings) -> int:
    """Queue held backfill fire times that have a free slot, a transaction per `RELEASE_BATCH`
    backfills; answers how many were queued. An idle tick reads one index and takes no write lock."""
    with db.transaction(write=False) as session:
        if not any_held(session):
            return 0
    released, after = 0, ""
    while True:
        with db.transaction(write=True) as session:
            batch = release_held(session, settings=settings, after=after)
        released, after = released + batch.queued, batch.last_id
        if batch.backfills < RELEASE_BATCH:
            return released


def fire_due(db: Database, *, settings: Settings, now: datetime, batch_size: int = BATCH_SIZE) -> TickResult:
    """Fire every schedule due at `now`; one transaction per batch. A fire time later than one tick
    before `now` is on time; earlier ones were missed (their schedule's catch-up policy decides).

    On PostgreSQL, when the first batch comes back full, `POSTGRES_PARALLEL_BATCHES` threads take
    the rest at once (`SKIP LOCKED` gives each its own schedules); SQLite writes one at a time."""
    grace = timedelta(seconds=settings.scheduler_tick_seconds)
    total = TickResult()
    with db.transaction(write=False) as session:  # an idle tick takes no write lock
        if not any_due(session, now=now):
            return total
    _add(total, _batch(db, settings, now, grace, batch_size))
    if total.schedules < batch_size:
        return total
    if db.is_sqlite:
        _add(total, _drain(db, settings, now, grace, batch_size))
        return total
    with ThreadPoolExecutor(POSTGRES_PARALLEL_BATCHES, thread_name_prefix="dagy-scheduler") as pool:
        drains = [
            pool.submit(_drain, db, settings, now, grace, batch_size)
            for _ in range(POSTGRES_PARALLEL_BATCHES)
        ]
        for drain in drains:
            _add(total, drain.result())
    return total


def _drain(db: Database, settings: Settings, now: datetime, grace: timedelta, batch_size: int) -> TickResult:
    """Batches until one comes back short (nothing left that another drain has not locked)."""
    total = TickResult()
    while True:
        batch = _batch(db, settings, now, grace, batch_size)
        _add(total, batch)
        if batch.schedules < batch_size:
            return total


def _batch(db: Database, settings: Settings, now: datetime, grace: timedelta, batch_size: int) -> TickResult:
    """One batch in its own transaction; one PostgreSQL chose as a deadlock victim (two batches
    waiting on each other's rows) is rolled back whole and written again."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with db.transaction(write=True) as session:
                batch = fire_due_batch(session, now=now, grace=grace, settings=settings, limit=batch_size)
            break
        except OperationalError as exc:
            if attempt == _ATTEMPTS or getattr(exc.orig, "sqlstate", None) not in _RETRIED_SQLSTATES:
                raise
            log.info("scheduler batch rolled back (%s); writing it again", exc.orig.__class__.__name__)
    return TickResult(
        schedules=batch.schedules,
        queued=batch.queued,
        skipped=batch.skipped,
        refused=batch.refused,
        batches=1,
    )


def _add(total: TickResult, part: TickResult) -> None:
    total.schedules += part.schedules
    total.queued += part.queued
    total.skipped += part.skipped
    total.refused += part.refused
    total.batches += part.batches


async def run_scheduler(
    db: Database, *, settings: Settings, stop: asyncio.Event, clock: Clock = utcnow
) -> None:
    """Tick until `stop` is set; a failed tick (the database away) is logged and tried again."""
    interval = settings.scheduler_tick_seconds
    while not stop.is_set():
        try:
            result = await anyio.to_thread.run_sync(partial(tick, db, settings=settings, now=clock()))
            if result.released:
                log.info("released %d held backfill run(s)", result.released)
            if result.schedules:
                log.info(
                    "fired %d schedule(s): %d run(s) queued, %d fire time(s) skipped, %d refused",
                    result.schedules,
                    result.queued,
                    result.skipped,
                    result.refused,
                )
        except Exception:  # a database hiccup must not end the loop
            log.exception("scheduler tick failed; retrying in %.1fs", interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
