"""`dagy worker`: run flows for a Dagy server, on this host, over HTTP."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from dagy.worker import Worker


def worker(  # noqa: PLR0917 - a typer command: one parameter per option
    token: Annotated[str, typer.Option(envvar="DAGY_WORKER_TOKEN", help="The server's worker token.")],
    url: Annotated[
        str, typer.Option(envvar="DAGY_WORKER_URL", help="The server's URL.")
    ] = "http://127.0.0.1:8080",
    executor: Annotated[
        str, typer.Option(help="Which runs to take: those queued for this executor.")
    ] = "local",
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Runs executed at once.")] = 4,
    worker_id: Annotated[
        str | None, typer.Option(help="Name in leases and logs; default host-pid-random.")
    ] = None,
    drain_seconds: Annotated[
        float, typer.Option(min=0, help="On shutdown, time running runs get to finish.")
    ] = 30.0,
) -> None:
    """Claim queued runs and execute each in its own subprocess until stopped (SIGTERM, Ctrl-C)."""
    from dagy.worker import Worker, WorkerConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = WorkerConfig(
        url=url, token=token, executor=executor, concurrency=concurrency, drain_seconds=drain_seconds
    )
    if worker_id:
        config.worker_id = worker_id
    asyncio.run(_run_until_signalled(Worker(config)))


async def _run_until_signalled(worker: Worker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await worker.run(stop)
