"""`dagy worker`: run flows for a Dagy server, on this host, over HTTP."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import signal
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from dagy.worker import Worker


def worker(  # noqa: PLR0917 - a typer command: one parameter per option
    token: Annotated[
        str | None,
        typer.Option(envvar="DAGY_WORKER_TOKEN", help="The installation's worker token: every org's runs."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="DAGY_API_KEY",
            help="An org's API key (scopes flows.read, runs.trigger, secrets.read): that org's runs only.",
        ),
    ] = None,
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
    max_parallel_nodes: Annotated[
        int,
        typer.Option(
            envvar="DAGY_MAX_PARALLEL_NODES", min=1, max=64, help="Nodes of one run executed at once."
        ),
    ] = 4,
    log_max_bytes: Annotated[
        int,
        typer.Option(
            envvar="DAGY_RUN_LOG_MAX_BYTES", min=1024, help="A run's log is cut past this many bytes."
        ),
    ] = 10 * 1024 * 1024,
    mode_limits: Annotated[
        str,
        typer.Option(
            envvar="DAGY_EXECUTION_MODE_LIMITS",
            help='JSON {"mode": {"memory_mb": N, "timeout_seconds": N}}: this host\'s limits per mode.',
        ),
    ] = "",
    isolation: Annotated[
        str | None,
        typer.Option(
            envvar="DAGY_ISOLATION",
            help="Run isolation: strict (refuse to start without the full boundary), best, or off "
            "(single-user only). Default: strict with --token (every org's runs), best with --api-key.",
        ),
    ] = None,
    dask_address: Annotated[
        str | None,
        typer.Option(
            envvar="DAGY_DASK_ADDRESS",
            help="A Dask scheduler (tcp://host:8786): the nodes of this worker's runs execute on its "
            "cluster. Needed by --executor dask.",
        ),
    ] = None,
    tracing: Annotated[
        str,
        typer.Option(
            envvar="DAGY_TRACING",
            help="off, or otlp: spans of run attempts and node executions over OTLP/HTTP to "
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT (docs/metrics.md).",
        ),
    ] = "off",
) -> None:
    """Claim queued runs and execute each in its own subprocess until stopped (SIGTERM, Ctrl-C)."""
    from pydantic import ValidationError

    from dagy.protocol import HostSettings
    from dagy.runtime.limits import parse_mode_limits
    from dagy.tracing import WORKER_SERVICE, TracingUnavailable, start_tracing
    from dagy.worker import Worker, WorkerConfig
    from dagy.worker.isolation import LEVELS, IsolationUnavailable, establish, log_level

    if (token is None) == (api_key is None):
        raise typer.BadParameter("give --token or --api-key (one of them)", param_hint="--token/--api-key")
    try:
        limits = parse_mode_limits(mode_limits)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mode-limits") from exc
    try:
        # The host's own settings for its runs (SSRF guard, SMTP, vector store), as set.
        host_settings = HostSettings.from_env()
    except ValidationError as exc:
        raise typer.BadParameter(str(exc), param_hint="DAGY_SMTP_*/DAGY_* variables") from exc
    if isolation is not None and isolation not in LEVELS:
        raise typer.BadParameter(f"one of {', '.join(LEVELS)}", param_hint="--isolation")
    if tracing not in ("off", "otlp"):
        raise typer.BadParameter("off or otlp", param_hint="--tracing")
    try:
        traced = start_tracing("otlp", WORKER_SERVICE) if tracing == "otlp" else None
    except TracingUnavailable as exc:
        raise typer.BadParameter(str(exc), param_hint="--tracing") from exc
    _check_dask(executor, dask_address)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = WorkerConfig(
        url=url,
        token=token or api_key or "",
        executor=executor,
        concurrency=concurrency,
        drain_seconds=drain_seconds,
        max_parallel_nodes=max_parallel_nodes,
        log_max_bytes=log_max_bytes,
        mode_limits=limits,
        host_settings=host_settings,
        isolation=isolation or ("strict" if token else "best"),
        private_paths=(os.path.realpath(os.path.expanduser(os.environ.get("DAGY_HOME") or "~/.dagy")),),
        dask_address=dask_address or None,
        tracing=traced,
    )
    if worker_id:
        config.worker_id = worker_id
    try:
        established = establish(config.isolation, hidden=config.private_paths, python=config.python)
    except IsolationUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    log_level(established, f"worker {config.worker_id}")
    try:
        asyncio.run(_run_until_signalled(Worker(config, isolation=established)))
    finally:
        if config.tracing is not None:  # the spans still buffered go out before the process ends
            config.tracing.shutdown()


def _check_dask(executor: str, address: str | None) -> None:
    """`dask` runs need a cluster; a cluster needs the `dask` extra (distributed) on this host."""
    if not address:
        if executor == "dask":
            raise typer.BadParameter(
                "the dask executor hands nodes to a Dask cluster: give --dask-address (DAGY_DASK_ADDRESS)",
                param_hint="--dask-address",
            )
        return
    if importlib.util.find_spec("distributed") is None:
        raise typer.BadParameter(
            "Dask's client is not installed here: pip install 'dagy[dask]'", param_hint="--dask-address"
        )


async def _run_until_signalled(worker: Worker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await worker.run(stop)
