"""Counting API calls and errors per org (pure ASGI, a dictionary update per request).

A request counts for the org it acted in: the caller's (`request.state.principal`), or, for a
caller without one, the org an error names (`request.state.usage_org_id`: a webhook's quota
refusal). An answer of 400 or more is also an error. The worker protocol, health probes and the
API docs are not counted. The counts are written by the server's meter flush
(`services/usage.py`).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dagy.server.db.base import utcnow
from dagy.server.domains.usage.metering import UsageMeter

_NOT_METERED = ("/v1/workers/", "/v1/health", "/v1/docs", "/v1/openapi.json")


class MeteringMiddleware:
    def __init__(self, app: ASGIApp, meter: UsageMeter) -> None:
        self.app = app
        self.meter = meter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_NOT_METERED):
            await self.app(scope, receive, send)
            return

        async def send_and_count(message: Message) -> None:
            if message["type"] == "http.response.start":
                org_id = _org_of(scope.get("state") or {})
                if org_id is not None:
                    error = int(message["status"]) >= 400
                    self.meter.count(org_id, utcnow().date(), api_calls=1, errors=int(error))
            await send(message)

        await self.app(scope, receive, send_and_count)


def _org_of(state: dict[str, Any]) -> str | None:
    principal = state.get("principal")
    org_id = getattr(principal, "org_id", None) or state.get("usage_org_id")
    return org_id if isinstance(org_id, str) else None
