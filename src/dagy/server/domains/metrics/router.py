"""`GET /metrics` at the root, where Prometheus scrapes by default (docs/metrics.md).

Public unless `DAGY_METRICS_TOKEN` is set; then only `Authorization: Bearer <that token>` reads it.
"""

from __future__ import annotations

import hmac

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dagy.server.errors import Unauthorized
from dagy.server.settings import Settings

# Outside the /v1 API and its reference (like `/`): an operator's endpoint in Prometheus's format.
router = APIRouter(include_in_schema=False)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """The server's metrics in Prometheus text format: this process's HTTP requests, and the run
    queue, workers, scheduler, sensors and alert outbox read from the database now."""
    _check_token(request)
    # The database collector's queries are blocking: off the event loop.
    body = await anyio.to_thread.run_sync(generate_latest, request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _check_token(request: Request) -> None:
    settings: Settings = request.app.state.settings
    if settings.metrics_token is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = settings.metrics_token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise Unauthorized(
            "GET /metrics needs Authorization: Bearer <DAGY_METRICS_TOKEN>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
