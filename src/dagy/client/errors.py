"""What the client raises: the server's error body, typed by what a caller does about it."""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    """The server answered with an error; `code`, `message` and `details` are its error body."""

    def __init__(
        self, status_code: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or {}

    @property
    def retryable(self) -> bool:
        """Worth trying again later: the server is unwell or asks us to slow down."""
        return self.status_code >= 500 or self.status_code == 429


class LeaseLost(ApiError):
    """409 on a worker write: this attempt no longer holds the run (it expired and was re-queued)."""


def raise_for_error(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    error_class = LeaseLost if response.status_code == 409 else ApiError
    raise error_class(
        response.status_code,
        str(body.get("error", "http_error")),
        str(body.get("message", response.reason_phrase)),
        body.get("details") if isinstance(body.get("details"), dict) else None,
    )
