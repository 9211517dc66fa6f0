"""The reaper: every `reaper_seconds`, runs whose lease expired go back to the queue (or fail),
runs that waited for an approval past its timeout get its `on_timeout` decision (approvals.py),
and the concurrency slots of runs that stopped running are swept away (they count for nothing).

A worker that dies, hangs or loses the network stops heartbeating; its lease runs out and the
reaper hands the run to the next claim. A run waiting for an approval holds no lease, so the reaper
never takes it for a lost one. Several reapers (server replicas) may run at once: the rows are
taken with `SKIP LOCKED`, so each expired lease and each timeout is handled once. One commit per
batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import anyio.to_thread

from dagy.server.db.engine import Database
from dagy.server.domains.concurrency import service as concurrency
from dagy.server.domains.runs import queue
from dagy.server.services.approvals import expire_once

log = logging.getLogger("dagy.server.reaper")

BATCH_SIZE = 100
SWEEP_BATCH_SIZE = 1000


def reap_once(db: Database) -> int:
    """Handle every expired lease, a batch per transaction; answer how many runs were reaped."""
    total = 0
    while True:
        with db.transaction(write=True) as session:
            count = queue.reap_expired_leases(session, limit=BATCH_SIZE)
        total += count
        if count < BATCH_SIZE:
            return total


def sweep_once(db: Database) -> int:
    """Delete the slot rows of runs that stopped running, a batch per transaction."""
    total = 0
    while True:
        with db.transaction(write=True) as session:
            count = concurrency.sweep_slots(session, limit=SWEEP_BATCH_SIZE)
        total += count
        if count < SWEEP_BATCH_SIZE:
            return total


async def run_reaper(db: Database, *, interval_seconds: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            reaped = await anyio.to_thread.run_sync(reap_once, db)
            if reaped:
                log.info("reaped %d run(s) whose lease expired", reaped)
            decided = await anyio.to_thread.run_sync(expire_once, db)
            if decided:
                log.info("applied the timeout of %d approval(s)", decided)
            await anyio.to_thread.run_sync(sweep_once, db)
        except Exception:  # a database hiccup must not end the loop
            log.exception("reaper pass failed; retrying in %.1fs", interval_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_seconds)
