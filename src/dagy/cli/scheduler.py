"""`dagy scheduler`: only the scheduler, against the database of a Dagy installation."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from dagy.server.db.engine import Database
    from dagy.server.settings import Settings


def scheduler() -> None:
    """Fire due schedules until stopped (SIGTERM, Ctrl-C). Any number may run beside `dagy server`
    replicas on one PostgreSQL; run it against a migrated database (`dagy db upgrade`)."""
    from dagy.server.db.engine import create_database
    from dagy.server.orchestration import RunQueueSignal
    from dagy.server.settings import Settings

    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    db = create_database(settings.database_url)
    # The runs it queues wake the waiting claims of every server process (PostgreSQL LISTEN/NOTIFY).
    RunQueueSignal.attached_to(db.sessions, cross_process=not db.is_sqlite)
    try:
        asyncio.run(_run_until_signalled(db, settings))
    finally:
        db.dispose()
    typer.echo("scheduler stopped")


async def _run_until_signalled(db: Database, settings: Settings) -> None:
    from dagy.server.services.scheduler import run_scheduler

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run_scheduler(db, settings=settings, stop=stop)
