"""One place that turns exceptions into the reference's error body `{"error", "message", "details"}`."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dagy.server.api import patterns
from dagy.server.api.traces import ErrorContext
from dagy.server.errors import DagyError, QuotaExceeded

log = logging.getLogger("dagy.server.errors")

_HTTP_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": code, "message": message, "details": details or {}}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or (str(loc[0]) if loc else "body")


def _validation_details(exc: RequestValidationError) -> dict[str, str]:
    details: dict[str, str] = {}
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            details["body"] = "request body is not valid JSON"
            continue
        name = _field_name(loc)
        details.setdefault(name, _problem(err))
    return details


def _problem(err: Any) -> str:
    """What is wrong with a field; a name rule in words rather than its regular expression."""
    if err.get("type") == "string_pattern_mismatch":
        rule = patterns.describe(str((err.get("ctx") or {}).get("pattern", "")))
        if rule is not None:
            return f"must be {rule}"
    return str(err.get("msg", "invalid value"))


async def _on_dagy_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DagyError)
    body = error_body(exc.code, exc.message, exc.details) | exc.extra
    if isinstance(exc, QuotaExceeded) and not exc.details:  # the reference's quota body, exactly
        del body["details"]
    metered_org = getattr(exc, "org_id", None)
    if isinstance(metered_org, str):  # an answer to a caller without an org (a webhook) is its org's
        request.state.usage_org_id = metered_org
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers or None)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    message = "Invalid request: " + ", ".join(f"{k}: {v}" for k, v in details.items())
    return JSONResponse(error_body("invalid_input", message[:1000], details), status_code=400)


async def _on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    details = {"body": "too large"} if exc.status_code == 413 else None
    return JSONResponse(
        error_body(code, str(exc.detail), details), status_code=exc.status_code, headers=exc.headers
    )


async def _on_integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity error rendered as 409: %s", type(exc).__name__)
    return JSONResponse(
        error_body("conflict", "The resource conflicts with an existing one."), status_code=409
    )


async def _on_unhandled(request: Request, exc: Exception) -> JSONResponse:
    """500 with the request id and no trace; the trace goes to the trace store (api/traces.py)."""
    request_id = getattr(request.state, "request_id", None) or "-"
    route = getattr(request.scope.get("route"), "path", None)
    principal = getattr(request.state, "principal", None)
    context = ErrorContext(
        request_id=request_id,
        method=request.method,
        route=route,
        org_id=getattr(principal, "org_id", None),
        user_email=getattr(principal, "email", None),
        impersonating=bool(getattr(principal, "impersonating", False)),
        bearer_token=_bearer(request),
    )
    stack = "".join(traceback.format_exception(exc))
    key = request.app.state.exception_recorder(context, type(exc).__qualname__, str(exc), stack)
    log.error(
        "unhandled %s in %s %s (request %s, trace %s)",
        type(exc).__name__,
        request.method,
        route or "-",
        request_id,
        key,
    )
    return JSONResponse(
        error_body("internal_error", "Internal server error.", {"request_id": request_id}),
        status_code=500,
        headers={"X-Request-Id": request_id},
    )


def _bearer(request: Request) -> str | None:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DagyError, _on_dagy_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(Exception, _on_unhandled)
