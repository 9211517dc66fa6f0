"""`dagy services`: every background loop of an installation, without the API.

The loops `dagy server` runs beside the API (the lease reaper, the clean-up of abandoned uploads,
the usage roll-up, the scheduler, the sensor loop, the alert dispatcher and SLA checker) in a
process of their own, so API replicas can run `dagy server --no-services` and the loops can be
scaled and restarted apart from them. Any number of copies may run on one PostgreSQL: each loop
takes its rows with `SKIP LOCKED` (docs/operations.md). On SQLite it is refused, as `dagy server
--processes` is: one `dagy server` runs the loops itself there, and a second process writing the
same file adds lock waits and risks the file (docs/adr/0011-server-processes.md).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from fastapi import FastAPI


def services() -> None:
    """Run the background loops until stopped (SIGTERM, Ctrl-C), against a migrated database
    (`dagy db upgrade`, or a `dagy server` start). Stops gracefully: each loop ends its pass."""
    from dagy.server.app import create_app
    from dagy.server.background import background_parts
    from dagy.server.settings import Settings

    settings = Settings()
    if settings.database_url.startswith("sqlite"):
        typer.echo(
            "dagy services runs beside API replicas on PostgreSQL (DAGY_DATABASE_URL); on SQLite, "
            "`dagy server` runs the background loops itself.",
            err=True,
        )
        raise typer.Exit(2)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The app is not served: its lifespan starts the loops with what they share (the database,
    # the run-queue signal that wakes other processes' claims, the object stores) and stops them.
    app = create_app(
        settings, migrate=False, background=background_parts(settings, worker=False, services=True)
    )
    asyncio.run(_run_until_signalled(app))
    typer.echo("services stopped")


async def _run_until_signalled(app: FastAPI) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with app.router.lifespan_context(app):
        logging.getLogger("dagy.services").info("background services running")
        await stop.wait()
