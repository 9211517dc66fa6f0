"""`/health` (public, cheap, shared probe), `/health/detailed` (authenticated, live), and the
public probes an orchestrator polls: `/health/live` and `/health/ready`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from dagy.server.api.security import get_principal
from dagy.server.domains.health.schemas import HealthRead, LiveRead, ReadyRead
from dagy.server.domains.health.service import HealthMonitor

router = APIRouter(prefix="/health", tags=["Health & Monitoring"])

_UNHEALTHY: dict[int | str, dict[str, Any]] = {
    503: {"model": HealthRead, "description": "Degraded or unhealthy"}
}


@router.get("", response_model=HealthRead, responses=_UNHEALTHY)
async def health(request: Request) -> JSONResponse:
    """Public liveness for load balancers; 503 unless every component is healthy.

    Built to be polled hard (thousands of requests a second): no transaction and no thread hop
    per request. The database (`SELECT 1` in a worker thread) and cache are probed at most once a
    second per process; callers arriving while a probe runs await that one probe and share its
    result, so a burst of checks costs the database one query.
    """
    monitor: HealthMonitor = request.app.state.health
    return _respond(await monitor.basic())


@router.get(
    "/detailed", response_model=HealthRead, responses=_UNHEALTHY, dependencies=[Depends(get_principal)]
)
async def health_detailed(request: Request) -> JSONResponse:
    """Any authenticated caller: a live check of every component, each with `latency_ms`."""
    monitor: HealthMonitor = request.app.state.health
    return _respond(await monitor.detailed())


@router.get("/live", response_model=LiveRead)
async def health_live(request: Request) -> LiveRead:
    """Liveness (Kubernetes `livenessProbe`): the process answers requests. No database or cache
    check, so a database outage does not get every replica restarted."""
    monitor: HealthMonitor = request.app.state.health
    return monitor.live()


@router.get(
    "/ready", response_model=ReadyRead, responses={503: {"model": ReadyRead, "description": "Not ready"}}
)
async def health_ready(request: Request) -> JSONResponse:
    """Readiness (`readinessProbe`): 200 when the database answers and its schema is not behind
    this code's migrations (`migrations` at_head, or ahead during a rolling upgrade); else 503."""
    monitor: HealthMonitor = request.app.state.health
    report = await monitor.ready()
    return JSONResponse(
        report.model_dump(mode="json", exclude_none=True),
        status_code=200 if report.status == "ready" else 503,
    )


def _respond(report: HealthRead) -> JSONResponse:
    status_code = 200 if report.status == "healthy" else 503
    return JSONResponse(report.model_dump(mode="json", exclude_none=True), status_code=status_code)
