"""The API client for users, scripts and the CLI: `Client` (sync) and `AsyncClient`, over httpx.

Both speak to `/v1` with a bearer credential (an access token or an API key), parse JSON answers,
raise `ApiError` with the server's error body, and retry what is worth retrying: 429 and 503
after the `Retry-After` the server asks for (else an exponential backoff), and, for requests that
are safe to repeat (GET, HEAD, PUT, DELETE), a connection that failed. A POST is never repeated
after it may have reached the server; use an idempotency key where the API offers one.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Self

import httpx

from dagy import __version__
from dagy.client.errors import raise_for_error
from dagy.client.operations import AsyncOperations, Operations
from dagy.client.workers import api_base_url

RETRY_STATUSES = frozenset({429, 503})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
DEFAULT_MAX_RETRIES = 3
MAX_RETRY_AFTER_SECONDS = 60.0
_BACKOFF_BASE_SECONDS = 0.5


def retry_delay(response: httpx.Response | None, retry: int) -> float:
    """Seconds before retry number `retry` (1, 2, ...): the server's `Retry-After` (seconds or an
    HTTP date), capped at a minute; else an exponential backoff with jitter."""
    header = response.headers.get("Retry-After") if response is not None else None
    if header:
        try:
            seconds = float(header)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(header).timestamp() - time.time()
            except (TypeError, ValueError):
                seconds = -1.0
        if seconds >= 0:
            return min(seconds, MAX_RETRY_AFTER_SECONDS)
    backoff: float = _BACKOFF_BASE_SECONDS * 2 ** (retry - 1)
    return backoff * (1 + random.random() / 2)  # noqa: S311 - jitter, not cryptography


def _headers(token: str | None) -> dict[str, str]:
    headers = {"User-Agent": f"dagy-client/{__version__}", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _answer(response: httpx.Response) -> Any:
    raise_for_error(response)
    if response.status_code == 204 or not response.content:
        return None
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    return response.content


def _should_retry(method: str, response: httpx.Response | None, retry: int, max_retries: int) -> bool:
    if retry > max_retries:
        return False
    if response is None:  # the connection failed: repeat only what is safe to repeat
        return method.upper() in IDEMPOTENT_METHODS
    return response.status_code in RETRY_STATUSES


class ClientCore:
    """A synchronous connection to the API: `request`, its retries, and closing. `Client` adds a
    method per operation.

    `transport` lets a test or an embedding program speak to an ASGI app in-process.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = api_base_url(url)
        self.max_retries = max_retries
        self._http = httpx.Client(
            base_url=self.base_url, headers=_headers(token), timeout=timeout, transport=transport
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """`path` under `/v1` (`/flows`); the parsed JSON answer, None for 204, bytes otherwise."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        retry = 0
        while True:
            retry += 1
            try:
                response = self._http.request(method, path, json=json, params=query, headers=headers)
            except httpx.TransportError:
                if not _should_retry(method, None, retry, self.max_retries):
                    raise
                time.sleep(retry_delay(None, retry))
                continue
            if not _should_retry(method, response, retry, self.max_retries):
                return _answer(response)
            time.sleep(retry_delay(response, retry))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClientCore:
    """`ClientCore`, awaited. `AsyncClient` adds a method per operation."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = api_base_url(url)
        self.max_retries = max_retries
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=_headers(token), timeout=timeout, transport=transport
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """As `Client.request`."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        retry = 0
        while True:
            retry += 1
            try:
                response = await self._http.request(method, path, json=json, params=query, headers=headers)
            except httpx.TransportError:
                if not _should_retry(method, None, retry, self.max_retries):
                    raise
                await asyncio.sleep(retry_delay(None, retry))
                continue
            if not _should_retry(method, response, retry, self.max_retries):
                return _answer(response)
            await asyncio.sleep(retry_delay(response, retry))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class Client(Operations, ClientCore):
    """`Client("http://127.0.0.1:8080", token)`: every JSON operation of the API as a typed method
    (`client.list_flows()`, `client.trigger_run({"flow_name": ...})`; dagy/client/operations.py),
    synchronous; `request` for the rest. Raises `ApiError` with the server's error body."""


class AsyncClient(AsyncOperations, AsyncClientCore):
    """`AsyncClient(url, token)`: the same API as `Client`, awaited."""
