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
    async def hit(self, key: str, window_start: int) -> int: ...

    async def close(self) -> None: ...


class MemoryStore:
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

    async def close(self) -> None:
        return None


class RedisStore:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis  # imported only when configured

        self._redis = redis.from_url(url)
        self._fallback = MemoryStore()

    async def hit(self, key: str, window_start: int) -> int:
        name = f"dagy:rl:{key}:{window_start}"
        try:
            pipe = self._redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, WINDOW_SECONDS * 2)
            count, _ = await pipe.execute()
            return int(count)
        except Exception as exc:  # noqa: BLE001 - fail open on any Redis trouble, and say so
            log.warning("rate-limit store unavailable, counting in-process: %s", type(exc).__name__)
            return await self._fallback.hit(key, window_start)

    async def close(self) -> None:
        await self._redis.aclose()


class RateLimiter:
    def __init__(self, limit_per_minute: int, store: RateLimitStore) -> None:
        self.limit = limit_per_minute
        self.store = store

    async def check(self, key: str) -> Decision:
        now = int(time.time())
        window_start = now - now % WINDOW_SECONDS
        count = await self.store.hit(key, window_start)
        return Decision(
            limit=self.limit,
            remaining=max(0, self.limit - count),
            reset_at=window_start + WINDOW_SECONDS,
            allowed=count <= self.limit,
        )
