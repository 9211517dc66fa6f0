"""Dagy's object store as a run on a remote `dagy worker` sees it: the server's store over HTTP.

A worker that is not the server's embedded one has no access to the server's folder. Its runs
reach the same objects through the worker protocol's object routes
(`/v1/workers/runs/{run_id}/objects/...`, docs/workers.md), authenticated by the run's object
token: a credential the server signs for one attempt of one run held by one worker, so the run's
process never holds the worker's own credential. The server applies the same key scoping as
`DirectoryObjectStore` (the run's org; flow artifacts read-only; only this run's folder of
`dagy/runs/`), and refuses a token whose attempt lost its lease (409).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from dagy.nodes.base import NodeError

TIMEOUT_SECONDS = 120.0
# Server error codes a node sees as they are; anything else is `object_store_error`.
_KNOWN_CODES = frozenset({"object_not_found", "forbidden_key", "object_too_large", "lease_lost"})


class HttpObjectStore:
    """The `ObjectStore` of `dagy.nodes.base` over the worker protocol, for one run's attempt."""

    def __init__(self, url: str, token: str, *, run_id: str, worker_id: str, attempt: int) -> None:
        self._url, self._token = url.rstrip("/"), token
        self._base = f"/workers/runs/{quote(run_id, safe='')}/objects"
        self._params = {"worker_id": worker_id, "attempt": str(attempt)}
        self._client: httpx.Client | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its connection (a node's context crossing to a Dask worker)."""
        return {**self.__dict__, "_client": None}

    @property
    def _http(self) -> httpx.Client:
        """Made on first use: most runs never touch the store, and a client costs ~20 ms (its TLS
        context) in every run process that makes one."""
        if self._client is None:
            self._client = httpx.Client(
                base_url=self._url,
                headers={"Authorization": f"Bearer {self._token}", "User-Agent": "dagy-run"},
                timeout=TIMEOUT_SECONDS,
            )
        return self._client

    def get(self, key: str) -> bytes:
        response = self._request("GET", key)
        return response.content

    def put(self, key: str, data: bytes) -> str:
        response = self._request(
            "PUT", key, content=data, headers={"Content-Type": "application/octet-stream"}
        )
        return str(response.json()["key"])

    def list(self, prefix: str) -> list[str]:
        response = self._call("GET", self._base, params={**self._params, "prefix": prefix}, key=prefix)
        return [str(key) for key in response.json()["keys"]]

    def _request(self, method: str, key: str, **kwargs: Any) -> httpx.Response:
        if not key:
            raise NodeError("forbidden_key", "An object key is not empty.")
        path = f"{self._base}/{quote(key, safe='/')}"
        return self._call(method, path, params=self._params, key=key, **kwargs)

    def _call(self, method: str, path: str, *, key: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise NodeError(
                "object_store_error", f"The object store could not be reached for {key!r}: {exc}"
            ) from exc
        if response.is_success:
            return response
        try:
            body = response.json()
        except ValueError:
            body = {}
        code = str(body.get("error") or "") if isinstance(body, dict) else ""
        message = str(body.get("message") or response.reason_phrase) if isinstance(body, dict) else ""
        if code not in _KNOWN_CODES:
            code, message = "object_store_error", f"{response.status_code} {code}: {message}".strip()
        raise NodeError(code, message)
