"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request).

`RequestContextMiddleware` gives each request an id, applies the per-caller rate limit and adds
the `X-RateLimit-*` headers to every response, 429 with `Retry-After` when the limit is spent.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dagy.server.api.errors import error_body
from dagy.server.api.ratelimit import RateLimiter

_UNLIMITED_PATHS = ("/v1/docs", "/v1/openapi.json")


def _caller_key(scope: Scope) -> str:
    """The bearer token's hash when there is one (a caller), else the client address."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return "t:" + hashlib.sha256(value).hexdigest()[:32]
    client = scope.get("client")
    return "ip:" + (client[0] if client else "-")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        if scope["path"].startswith(_UNLIMITED_PATHS):
            await self.app(scope, receive, send)
            return
        decision = await self.limiter.check(_caller_key(scope))
        headers = [
            (b"x-ratelimit-limit", str(decision.limit).encode()),
            (b"x-ratelimit-remaining", str(decision.remaining).encode()),
            (b"x-ratelimit-reset", str(decision.reset_at).encode()),
            (b"x-request-id", request_id.encode()),
        ]
        if not decision.allowed:
            await _reject(send, headers, max(1, decision.reset_at - int(time.time())))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _reject(send: Send, headers: list[tuple[bytes, bytes]], retry_after: int) -> None:
    body = json.dumps(
        error_body("rate_limited", "Rate limit exceeded; retry later.", {"retry_after_seconds": retry_after})
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
