"""Abandoned artifact uploads: every `interval_seconds`, uploads still pending 24 hours after they
began are aborted, their staged parts (local) or S3 multipart uploads removed. Several server
processes may clean at once: the rows are taken with `SKIP LOCKED`. One commit per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

import anyio.to_thread

from dagy.server.db.base import utcnow
from dagy.server.db.engine import Database
from dagy.server.domains.artifacts import service
from dagy.storage import ArtifactStore

log = logging.getLogger("dagy.server.artifact_uploads")

BATCH_SIZE = 100
INTERVAL_SECONDS = 600.0


def abort_abandoned_once(db: Database, store: ArtifactStore, *, now: datetime | None = None) -> int:
    """Abort every abandoned upload, a batch per transaction; answers how many."""
    total = 0
    while True:
        with db.transaction(write=True) as session:
            count = service.abort_abandoned_uploads(
                session, store=store, now=now or utcnow(), limit=BATCH_SIZE
            )
        total += count
        if count < BATCH_SIZE:
            return total


async def run_upload_cleanup(
    db: Database, store: ArtifactStore, *, stop: asyncio.Event, interval_seconds: float = INTERVAL_SECONDS
) -> None:
    while not stop.is_set():
        try:
            aborted = await anyio.to_thread.run_sync(abort_abandoned_once, db, store)
            if aborted:
                log.info("aborted %d abandoned artifact upload(s)", aborted)
        except Exception:  # a database or store hiccup must not end the loop
            log.exception("artifact upload clean-up failed; retrying in %.0fs", interval_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_seconds)
