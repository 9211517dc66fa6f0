"""Metering loops: every server writes what its meter counted; the services roll days up.

`run_meter_flush` runs in every server process (API calls are counted where they are answered) and
flushes one last time when it stops. `run_usage_rollup` is a background service: every
`usage.rollup_seconds` it recomputes the recent days (and days never computed) from the raw rows,
one transaction per day. Several at once are harmless: a day's recomputation replaces its rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import anyio.to_thread

from dagy.server.db.base import utcnow
from dagy.server.db.engine import Database
from dagy.server.domains.usage.metering import UsageMeter, add_counts, days_to_roll_up, rollup_day
from dagy.server.settings import Settings

log = logging.getLogger("dagy.server.usage")


def flush_meter(db: Database, meter: UsageMeter) -> int:
    """Write what `meter` counted; on failure it is kept for the next flush. Rows written."""
    rows = meter.take()
    if not rows:
        return 0
    try:
        with db.transaction(write=True) as session:
            add_counts(session, rows=rows)
    except Exception:
        meter.put_back(rows)
        raise
    return len(rows)


async def run_meter_flush(
    db: Database, meter: UsageMeter, *, interval_seconds: float, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_seconds)
        try:
            await anyio.to_thread.run_sync(flush_meter, db, meter)
        except Exception:  # a database hiccup must not end the loop; the counts wait for the next
            log.exception("writing usage counters failed; retrying in %.1fs", interval_seconds)


def roll_up_once(db: Database, settings: Settings) -> int:
    """Recompute the days due (`days_to_roll_up`), one transaction each; days recomputed."""
    now = utcnow()
    with db.transaction(write=False) as session:
        days = days_to_roll_up(
            session,
            now=now,
            recompute_days=settings.usage.recompute_days,
            catchup_days=settings.usage.catchup_days,
        )
    for day in days:
        with db.transaction(write=True) as session:
            rollup_day(session, day=day, now=utcnow())
    return len(days)


async def run_usage_rollup(db: Database, *, settings: Settings, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await anyio.to_thread.run_sync(roll_up_once, db, settings)
        except Exception:  # a database hiccup must not end the loop
            log.exception("usage roll-up failed; retrying in %.1fs", settings.usage.rollup_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.usage.rollup_seconds)
