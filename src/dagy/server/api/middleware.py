"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request).

`RequestContextMiddleware` gives each request an id, refuses bodies over the size limit (413),
applies the per-caller rate limit and adds the `X-RateLimit-*` headers to every response, 429
with `Retry-After` when the limit is spent.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from functools import lru_cache

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dagy.server.api.errors import error_body
from dagy.server.api.ratelimit import RateLimiter

# Not counted per caller: the API docs, and the worker protocol, whose callers share the
# installation's worker token and are bounded by their own concurrency (heartbeats must not 429).
_UNLIMITED_PATHS = ("/v1/docs", "/v1/openapi.json", "/v1/workers/")
# Object uploads (the worker protocol's, the org's `/v1/objects/...`): the route applies a limit of
# its own (`max_object_bytes`, 413 `object_too_large`) while it streams the body.
# Artifact parts (`PUT /v1/artifacts/uploads/{id}/parts/{n}`) too: the route takes exactly the size its
# signed URL names.
_OBJECT_UPLOAD = re.compile(r"^/v1/((workers/runs/[^/]+/)?objects/|artifacts/uploads/[^/]+/parts/)")


def _limit_keys(scope: Scope) -> tuple[str, str | None]:
    """(caller, address ceiling): a request with a bearer token counts for the token and, under a
    higher ceiling, for its address; one without counts for its address alone."""
    client = scope.get("client")
    address = "ip:" + (client[0] if client else "-")
    for name, value in scope["headers"]:
        if name == b"authorization":
            return _token_key(value), address
    return address, None


@lru_cache(maxsize=4096)
def _token_key(authorization: bytes) -> str:
    """The rate-limit key of a bearer token (a hash: the store never holds the token)."""
    return "t:" + hashlib.sha256(authorization).hexdigest()[:32]


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter, max_body_bytes: int) -> None:
        self.app = app
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        headers = [(b"x-request-id", request_id.encode())]
        if not scope["path"].startswith(_UNLIMITED_PATHS):
            decision = await self.limiter.check(*_limit_keys(scope))
            headers += [
                (b"x-ratelimit-limit", str(decision.limit).encode()),
                (b"x-ratelimit-remaining", str(decision.remaining).encode()),
                (b"x-ratelimit-reset", str(decision.reset_at).encode()),
            ]
            if not decision.allowed:
                retry_after = max(1, decision.reset_at - int(time.time()))
                body = error_body(
                    "rate_limited", "Rate limit exceeded; retry later.", {"retry_after_seconds": retry_after}
                )
                await _reply(send, 429, body, [(b"retry-after", str(retry_after).encode()), *headers])
                return
        if not (scope["method"] == "PUT" and _OBJECT_UPLOAD.match(scope["path"])):
            if _declared_length(scope) > self.max_body_bytes:
                body = error_body(
                    "payload_too_large",
                    f"The request body exceeds {self.max_body_bytes} bytes.",
                    {"body": f"at most {self.max_body_bytes} bytes"},
                )
                await _reply(send, 413, body, headers)
                return
            receive = _limited(receive, self.max_body_bytes)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


def _limited(receive: Receive, limit: int) -> Receive:
    """Counts a body sent without Content-Length (chunked) and stops it at the limit."""
    seen = 0

    async def receive_limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                # An HTTPException passes FastAPI's body parsing unchanged and is rendered as 413.
                raise HTTPException(413, f"The request body exceeds {limit} bytes.")
        return message

    return receive_limited


async def _reply(
    send: Send, status: int, body: dict[str, object], headers: list[tuple[bytes, bytes]]
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
