"""`dagy server`: API, background services and the embedded worker in one process."""

from __future__ import annotations

import copy
from typing import Annotated, Any, TypedDict

import typer


class _Overrides(TypedDict, total=False):
    """The command's options that replace the settings from the environment."""

    host: str
    port: int
    server_processes: int


class _ServeOptions(TypedDict):
    """What `uvicorn.run` is given, whether it serves one process or several."""

    host: str
    port: int
    loop: str
    http: str
    log_level: str
    log_config: dict[str, Any]
    access_log: bool
    proxy_headers: bool
    forwarded_allow_ips: str | None
    server_header: bool
    timeout_graceful_shutdown: int


def server(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (DAGY_HOST, default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (DAGY_PORT, default 8080).")] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the embedded local worker.")
    ] = False,
    no_services: Annotated[
        bool, typer.Option("--no-services", help="Do not run the background loops.")
    ] = False,
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Server processes sharing the port, PostgreSQL only (DAGY_SERVER_PROCESSES, default 1).",
        ),
    ] = None,
) -> None:
    """Start the server (migrations are applied first)."""
    import os

    import uvicorn

    from dagy.server.app import create_app
    from dagy.server.background import background_parts
    from dagy.server.db.migrate import upgrade
    from dagy.server.processes import SERVICES_ENV, WORKER_ENV, shared_metrics_directory
    from dagy.server.settings import Settings

    overrides: _Overrides = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if processes is not None:
        overrides["server_processes"] = processes
    settings = Settings(**overrides)
    options: _ServeOptions = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        "log_level": settings.log_level.lower(),
        "log_config": _log_config(settings.log_level),
        "access_log": False,
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips or None,
        "server_header": False,
        "timeout_graceful_shutdown": 5,
    }
    if settings.server_processes == 1:
        background = background_parts(settings, worker=not no_worker, services=not no_services)
        uvicorn.run(create_app(settings, background=background), **options)
        return
    if settings.database_url.startswith("sqlite"):
        raise typer.BadParameter(
            "several server processes need PostgreSQL: SQLite writes one at a time", param_hint="--processes"
        )
    settings.ensure_home()  # keys made once, before the processes read them
    upgrade(settings.database_url)
    os.environ.update(
        {
            "DAGY_HOST": settings.host,
            "DAGY_PORT": str(settings.port),
            WORKER_ENV: "0" if no_worker else "1",
            SERVICES_ENV: "0" if no_services else "1",
        }
    )
    with shared_metrics_directory():  # the processes' HTTP metrics, summed at each scrape
        uvicorn.run(
            "dagy.server.processes:app_from_environment",
            factory=True,
            workers=settings.server_processes,
            **options,
        )


def _log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, with Dagy's own loggers (the embedded worker's run isolation level,
    background services) printed the same way at DAGY_LOG_LEVEL."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["dagy"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config
