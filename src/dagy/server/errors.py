"""Domain errors: what services raise. Rendered once, by `api.errors`, as the reference's body.

Services never know about HTTP; each error carries a machine `code`, a message, optional
`details` and the status the API answers with.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DagyError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = headers or {}
        self.extra = extra or {}  # top-level fields beside error/message/details (quota bodies)
        if code is not None:
            self.code = code  # type: ignore[misc]


class InvalidInput(DagyError):
    status_code = 400
    code = "invalid_input"


class Unauthorized(DagyError):
    status_code = 401
    code = "unauthorized"


class PermissionDenied(DagyError):
    status_code = 403
    code = "forbidden"


class NotFound(DagyError):
    status_code = 404
    code = "not_found"


class Conflict(DagyError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(DagyError):
    status_code = 413
    code = "payload_too_large"


class RateLimited(DagyError):
    status_code = 429
    code = "rate_limited"


class QuotaExceeded(DagyError):
    status_code = 429
    code = "quota_exceeded"


class ServiceUnavailable(DagyError):
    status_code = 503
    code = "service_unavailable"


class OrgSuspended(PermissionDenied):
    """A request into an org a super admin suspended (docs/admin.md)."""

    code = "org_suspended"

    def __init__(self) -> None:
        super().__init__("This organization is suspended; contact support.")
