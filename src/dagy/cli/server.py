"""`dagy server`: API, background services and the embedded worker in one process."""

from __future__ import annotations

from typing import Annotated

import typer


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
) -> None:
    """Start the server (migrations are applied first)."""
    import uvicorn

    from dagy.server.app import create_app
    from dagy.server.background import background_parts
    from dagy.server.settings import Settings

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]

    app = create_app(
        settings, background=background_parts(settings, worker=not no_worker, services=not no_services)
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
