"""Counting requests and their latency by route template (pure ASGI: one timer per request).

The route is the template the router matched (`/v1/runs/{run_id}`), never the raw path, so no id
reaches a label; a request no route matched (a 404, or one the rate limit or body limit answered
before routing) counts as `unmatched`. `/metrics` itself is not counted.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dagy.server.api.docs import api_routes
from dagy.server.domains.metrics.service import HttpMetrics

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"
# A method outside these is counted as `other`: a client cannot add label values at will.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics
        # id(route) -> its full template (`/v1/runs/{run_id}`): the route FastAPI puts in the scope
        # is the included router's own, whose path lacks the prefix it was included under.
        self.templates: dict[int, str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == METRICS_PATH:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before any answer is what the server error handler sends

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = self._template(scope)
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.observe(method, route, status, time.perf_counter() - started)

    def _template(self, scope: Scope) -> str:
        route: Any = scope.get("route")
        if route is None:
            return UNMATCHED
        if self.templates is None:  # every router is included before the first request
            self.templates = {
                id(api_route): path for path, api_route in api_routes(list(scope["app"].routes))
            }
        return self.templates.get(id(route)) or getattr(route, "path", None) or UNMATCHED
