"""Stripe through its official SDK: checkout and portal sessions, webhook signatures.

A `StripeClient` per call, pointed at `DAGY_STRIPE_API_BASE` (Stripe itself, or a local stand-in
in tests). The calls block: services call them outside any database transaction, in the request's
worker thread.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import stripe

from dagy.server.errors import DagyError, InvalidInput, PermissionDenied, ServiceUnavailable
from dagy.server.settings import Settings

# How old a webhook's signature timestamp may be (Stripe's own default).
WEBHOOK_TOLERANCE_SECONDS = 300


def configured(settings: Settings) -> bool:
    """Billing is configured when Stripe's secret key is set; nothing else makes it so."""
    return settings.stripe_api_key is not None and bool(settings.stripe_api_key.get_secret_value())


def require_configured(settings: Settings) -> None:
    if not configured(settings):
        raise ServiceUnavailable(
            "Billing is not configured on this server (DAGY_STRIPE_API_KEY is not set).",
            code="billing_not_configured",
        )


def _client(settings: Settings) -> stripe.StripeClient:
    assert settings.stripe_api_key is not None
    return stripe.StripeClient(
        settings.stripe_api_key.get_secret_value(),
        base_addresses={"api": settings.stripe_api_base},
        max_network_retries=1,
    )


def create_checkout_session(settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/checkout/sessions`: id, url, expires_at (epoch seconds)."""
    try:
        session = _client(settings).v1.checkout.sessions.create(params)  # type: ignore[arg-type]
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc
    return {"id": session.id, "url": session.url, "expires_at": getattr(session, "expires_at", None)}


def create_portal_session(settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/billing_portal/sessions`: id, url."""
    try:
        session = _client(settings).v1.billing_portal.sessions.create(params)  # type: ignore[arg-type]
    except stripe.StripeError as exc:
        raise _unavailable(exc) from exc
    return {"id": session.id, "url": session.url}


def _unavailable(exc: stripe.StripeError) -> DagyError:
    message = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
    return ServiceUnavailable(f"Stripe refused the request: {message[:300]}", code="billing_provider_error")


def verified_event(payload: bytes, header: str | None, secret: str) -> dict[str, Any]:
    """The webhook's event, once its `Stripe-Signature` is verified by the SDK. A missing or
    malformed header, a timestamp older than the tolerance (a replay) or a body that is not JSON
    is 400; a signature that does not match (another secret, a changed body) is 403."""
    timestamp = _timestamp(header)
    if abs(time.time() - timestamp) > WEBHOOK_TOLERANCE_SECONDS:
        raise InvalidInput(
            "Invalid signature: the timestamp is outside the tolerance (a replayed or delayed event).",
            details={"Stripe-Signature": f"older than {WEBHOOK_TOLERANCE_SECONDS} s"},
        )
    try:
        stripe.Webhook.construct_event(payload, header, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError:
        raise PermissionDenied(
            "Signature verification failed.", code="signature_verification_failed"
        ) from None
    except ValueError:
        raise InvalidInput(
            "The webhook body is not a Stripe event.", details={"body": "must be JSON"}
        ) from None
    event = json.loads(payload)
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise InvalidInput("The webhook body is not a Stripe event.", details={"body": "must be an event"})
    return event


def _timestamp(header: str | None) -> int:
    if not header:
        raise InvalidInput(
            "Invalid signature: no Stripe-Signature header.", details={"Stripe-Signature": "required"}
        )
    items = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not items.get("t", "").isdigit() or not any(part.startswith("v1=") for part in header.split(",")):
        raise InvalidInput(
            "Invalid signature header.", details={"Stripe-Signature": "must be t=<timestamp>,v1=<signature>"}
        )
    return int(items["t"])


def from_epoch(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if isinstance(value, int | float) else None
