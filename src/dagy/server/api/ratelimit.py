"""Per-caller request limits in fixed one-minute windows (the scheme GitHub's API uses).

In-process by default; with `DAGY_REDIS_URL` the counters live in Redis, so every replica
shares them. A Redis outage fails open (requests are served, counted in-process).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("dagy.server.ratelimit")

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Decision:
    limit: int
    remaining: int
    reset_at: int  # epoch seconds when the window ends
    allowed: bool


class RateLimitStore(Protocol):
    backend: str  # what `/health` names the cache: "in-process" or "redis"

    async def hit(self, key: str, window_start: int) -> int: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class MemoryStore:
    backend = "in-process"

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    async def hit(self, key: str, window_start: int) -> int:
        with self._lock:
            start, count = self._counts.get(key, (window_start, 0))
            if start != window_start:
                if len(self._counts) > 100_000:
                    self._prune(window_start)
                start, count = window_start, 0
            count += 1
            self._counts[key] = (start, count)
            return count

    def _prune(self, window_start: int) -> None:
        self._counts = {k: v for k, v in self._counts.items() if v[0] == window_start}

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisStore:
    """Counters shared by every replica. Timeouts bound what a hung Redis costs a request, and
    after a failure Redis is left alone for `RETRY_SECONDS` so an outage does not add a timeout
    to every request; meanwhile requests are counted in-process."""

    backend = "redis"
    TIMEOUT_SECONDS = 0.5
    RETRY_SECONDS = 5.0

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis  # noqa: PLC0415 - imported only when configured

        self._redis = redis.from_url(
            url, socket_timeout=self.TIMEOUT_SECONDS, socket_connect_timeout=self.TIMEOUT_SECONDS
        )
        self._fallback = MemoryStore()
        self._skip_until = 0.0

    async def hit(self, key: str, window_start: int) -> int:
        if time.monotonic() < self._skip_until:
            return await self._fallback.hit(key, window_start)
        name = f"dagy:rl:{key}:{window_start}"
        try:
            pipe = self._redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, WINDOW_SECONDS * 2)
            count, _ = await pipe.execute()
            return int(count)
        except Exception as exc:  # fail open on any Redis trouble, and say so
            log.warning("rate-limit store unavailable, counting in-process: %s", type(exc).__name__)
            self._skip_until = time.monotonic() + self.RETRY_SECONDS
            return await self._fallback.hit(key, window_start)

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


class RateLimiter:
    """Per caller (token) and, as a ceiling, per client address.

    The address ceiling stops a client that sends a new made-up token with every request from
    escaping the per-caller limit; it is higher, since many callers may share one address (NAT).
    """

    def __init__(
        self, limit_per_minute: int, store: RateLimitStore, *, address_limit_per_minute: int
    ) -> None:
        self.limit = limit_per_minute
        self.address_limit = address_limit_per_minute
        self.store = store

    async def check(self, caller_key: str, address_key: str | None = None) -> Decision:
        decision = await self._hit(caller_key, self.limit)
        if address_key is not None:
            ceiling = await self._hit(address_key, self.address_limit)
            if not ceiling.allowed:
                return ceiling
        return decision

    async def _hit(self, key: str, limit: int) -> Decision:
        now = int(time.time())
        window_start = now - now % WINDOW_SECONDS
        count = await self.store.hit(key, window_start)
        return Decision(
            limit=limit,
            remaining=max(0, limit - count),
            reset_at=window_start + WINDOW_SECONDS,
            allowed=count <= limit,
        )
