"""The reaper: every `reaper_seconds`, runs whose lease expired go back to the queue (or fail).

A worker that dies, hangs or loses the network stops heartbeating; its lease runs out and the
reaper hands the run to the next claim. Several reapers (server replicas) may run at once: the
rows are taken with `SKIP LOCKED`, so each expired lease is handled once. One commit per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import anyio.to_thread

from dagy.server.db.engine import Database
from dagy.server.domains.runs import queue

log = logging.getLogger("dagy.server.reaper")

BATCH_SIZE = 100


def reap_once(db: Database) -> int:
    """Handle every expired lease, a batch per transaction; answer how many runs were reaped."""
    total = 0
    while True:
        with db.transaction(write=True) as session:
            count = queue.reap_expired_leases(session, limit=BATCH_SIZE)
        total += count
        if count < BATCH_SIZE:
            return total


async def run_reaper(db: Database, *, interval_seconds: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            reaped = await anyio.to_thread.run_sync(reap_once, db)
            if reaped:
                log.info("reaped %d run(s) whose lease expired", reaped)
        except Exception:  # a database hiccup must not end the loop
            log.exception("reaper pass failed; retrying in %.1fs", interval_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_seconds)
