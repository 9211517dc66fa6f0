"""The alert dispatcher and the SLA checker: background parts of `dagy server` (docs/alerts.md).

The dispatcher sends the outbox's due deliveries (`domains/notifications/dispatch.py`): a full
batch is followed at once by the next, an empty one waits `dispatch_seconds`. Several servers may
run it at once: rows are taken with `SKIP LOCKED` and leased. The SLA checker looks every
`sla_check_seconds` for runs past an on_sla_breach rule's SLA. A failing pass is logged and the
loop goes on; run transitions never wait for either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

import anyio.to_thread

from dagy.server.db.engine import Database
from dagy.server.domains.notifications import dispatch
from dagy.server.settings import Settings

log = logging.getLogger("dagy.server.alerts")


async def run_dispatcher(db: Database, *, settings: Settings, stop: asyncio.Event) -> None:
    config = settings.alerts
    with ThreadPoolExecutor(config.concurrency, thread_name_prefix="dagy-alerts") as pool:
        while not stop.is_set():
            sent = 0
            try:
                sent = await anyio.to_thread.run_sync(dispatch.dispatch_once, db, settings, pool)
            except Exception:  # a database hiccup must not end the loop
                log.exception("alert dispatch pass failed; retrying in %.1fs", config.dispatch_seconds)
            if sent >= config.batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), config.dispatch_seconds)


def check_slas_once(db: Database) -> int:
    with db.transaction(write=True) as session:
        return dispatch.check_slas(session)


async def run_sla_checker(db: Database, *, settings: Settings, stop: asyncio.Event) -> None:
    interval = settings.alerts.sla_check_seconds
    while not stop.is_set():
        try:
            breached = await anyio.to_thread.run_sync(check_slas_once, db)
            if breached:
                log.info("%d run(s) breached an SLA", breached)
        except Exception:  # a database hiccup must not end the loop
            log.exception("SLA check failed; retrying in %.1fs", interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
