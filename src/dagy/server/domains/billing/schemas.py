"""Bodies of `/billing`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import RequestModel, ResponseModel


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError("must be an http(s) URL")
    return value


HttpUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048), AfterValidator(_http_url)]


class PlanLimits(ResponseModel):
    monthly_runs: int | None
    monthly_tasks: int | None
    concurrent_runs: int | None
    max_run_duration_seconds: int | None


class PlanRead(ResponseModel):
    plan_id: str
    name: str
    monthly_cost_usd: float
    limits: PlanLimits


class PlanList(ResponseModel):
    items: list[PlanRead]


class PaymentMethod(ResponseModel):
    type: str
    last_four: str | None = None
    expiry_month: int | None = None
    expiry_year: int | None = None


class SubscriptionRead(ResponseModel):
    subscription_id: str | None = Field(description="Stripe's subscription id; null without one.")
    plan: str
    status: str = Field(description="active, past_due, canceled, ... (Stripe's subscription status).")
    billing_cycle_start: Timestamp
    billing_cycle_end: Timestamp
    billing_email: str
    monthly_cost_usd: float
    payment_method: PaymentMethod | None = None


class CheckoutCreate(RequestModel):
    plan: str = Field(max_length=32, description="A paid plan of `GET /billing/plans`.")
    success_url: HttpUrl
    cancel_url: HttpUrl


class CheckoutCreated(ResponseModel):
    checkout_id: str
    url: str
    expires_at: Timestamp | None = None


class PortalCreate(RequestModel):
    return_url: HttpUrl


class PortalCreated(ResponseModel):
    portal_session_id: str
    url: str


class WebhookReceived(ResponseModel):
    received: bool = True
