"""Plans, an org's subscription, Stripe checkout and portal sessions, Stripe's webhooks.

Billing is configured by `DAGY_STRIPE_API_KEY` alone. Without it checkout and portal answer 503
`billing_not_configured`, and an org's plan is whatever it was created with or an operator set
(`change_plan`). With it, a paid plan is reached only through checkout: Stripe's
`checkout.session.completed` webhook (its `client_reference_id` is the org, `metadata.plan` the
plan, both set by `create_checkout`) changes the org's plan. Each Stripe event is handled once,
by its id (docs/usage-and-billing.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.db.base import utcnow
from dagy.server.db.engine import Database
from dagy.server.db.models import Org
from dagy.server.domains.audit_logs.service import Action, record
from dagy.server.domains.billing import repository as repo
from dagy.server.domains.billing import stripe_api
from dagy.server.domains.billing.plans import PLANS, check_quota_overrides, plan_named
from dagy.server.domains.billing.schemas import (
    CheckoutCreate,
    CheckoutCreated,
    PlanLimits,
    PlanList,
    PlanRead,
    PortalCreate,
    PortalCreated,
    SubscriptionRead,
    WebhookReceived,
)
from dagy.server.domains.usage import quota
from dagy.server.errors import InvalidInput, NotFound, ServiceUnavailable
from dagy.server.identity import SYSTEM_ACTOR, Actor
from dagy.server.settings import Settings

FREE = "free"
# Stripe subscription statuses after which the org is back on the free plan.
_ENDED = ("canceled", "unpaid", "incomplete_expired")


def list_plans() -> PlanList:
    return PlanList(
        items=[
            PlanRead(
                plan_id=plan.plan_id,
                name=plan.name,
                monthly_cost_usd=plan.monthly_cost_usd,
                limits=PlanLimits(**plan.limits),
            )
            for plan in PLANS.values()
        ]
    )


def _org(session: Session, org_id: str, *, lock: bool = False) -> Org:
    org = repo.get_org(session, org_id, lock=lock)
    if org is None:
        raise NotFound("Organization not found.")
    return org


def get_subscription(session: Session, *, actor: Actor) -> SubscriptionRead:
    """The org's plan and, when Stripe bills it, its subscription's state and cycle; otherwise the
    calendar month (UTC) and status `active`."""
    org = _org(session, actor.org_id)
    start, end = org.billing_period_start, org.billing_period_end
    if start is None or end is None:
        today = utcnow().date()
        first = today.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        start = datetime.combine(first, time(), tzinfo=UTC)
        end = datetime.combine(following, time(), tzinfo=UTC) - timedelta(seconds=1)
    plan = PLANS.get(org.plan)
    return SubscriptionRead(
        subscription_id=org.stripe_subscription_id,
        plan=org.plan,
        status=org.subscription_status or "active",
        billing_cycle_start=start,
        billing_cycle_end=end,
        billing_email=org.billing_email or org.owner_email,
        monthly_cost_usd=plan.monthly_cost_usd if plan is not None else 0.0,
        payment_method=None,
    )


def create_checkout(
    db: Database, *, actor: Actor, data: CheckoutCreate, settings: Settings
) -> CheckoutCreated:
    """A Stripe checkout session for a paid plan; the org changes plan when Stripe reports the
    checkout completed (the webhook), not here."""
    stripe_api.require_configured(settings)
    plan = plan_named(data.plan)
    if not plan.paid:
        raise InvalidInput("The free plan needs no checkout.", details={"plan": "must be a paid plan"})
    price = _price_of(settings, plan.plan_id)
    with db.transaction(write=False) as session:
        org = _org(session, actor.org_id)
        customer, email = org.stripe_customer_id, org.billing_email or org.owner_email
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price, "quantity": 1}],
        "success_url": data.success_url,
        "cancel_url": data.cancel_url,
        "client_reference_id": actor.org_id,
        "metadata": {"org_id": actor.org_id, "plan": plan.plan_id},
        "subscription_data": {"metadata": {"org_id": actor.org_id, "plan": plan.plan_id}},
    }
    if customer:
        params["customer"] = customer
    else:
        params["customer_email"] = email
    created = stripe_api.create_checkout_session(settings, params)
    return CheckoutCreated(
        checkout_id=created["id"], url=created["url"], expires_at=stripe_api.from_epoch(created["expires_at"])
    )


def _price_of(settings: Settings, plan_id: str) -> str:
    price = {
        "professional": settings.stripe_price_professional,
        "enterprise": settings.stripe_price_enterprise,
    }
    found = price.get(plan_id, "")
    if not found:
        raise ServiceUnavailable(
            f"No Stripe price is configured for the {plan_id} plan (DAGY_STRIPE_PRICE_{plan_id.upper()}).",
            code="billing_not_configured",
        )
    return found


def create_portal(db: Database, *, actor: Actor, data: PortalCreate, settings: Settings) -> PortalCreated:
    """A Stripe customer portal session for the org's Stripe customer (one it got at checkout)."""
    stripe_api.require_configured(settings)
    with db.transaction(write=False) as session:
        customer = _org(session, actor.org_id).stripe_customer_id
    if not customer:
        raise InvalidInput(
            "The organization has no Stripe customer yet; subscribe through checkout first.",
            details={"plan": "no paid subscription"},
        )
    created = stripe_api.create_portal_session(
        settings, {"customer": customer, "return_url": data.return_url}
    )
    return PortalCreated(portal_session_id=created["id"], url=created["url"])


def change_plan(session: Session, *, actor: Actor, org_id: str, plan: str) -> None:
    """Set the org's plan (an operator's change, or Stripe's webhook); audited. 400 for an unknown plan."""
    plan_named(plan)
    org = _org(session, org_id, lock=True)
    _set_plan(session, actor, org, plan)


def set_quota_overrides(
    session: Session, *, actor: Actor, org_id: str, overrides: dict[str, Any]
) -> dict[str, Any]:
    """Replace the org's quota overrides (limit name -> whole number >= 0, or null: unlimited);
    400 for a negative or unknown limit. Audited. Answers the overrides stored."""
    checked = check_quota_overrides(overrides)
    org = _org(session, org_id, lock=True)
    before = dict(org.quota_overrides or {})
    org.quota_overrides = dict(checked)
    quota.limits_changed(session, org.id, utcnow())
    record(
        session,
        actor=actor,
        action=Action.UPDATE,
        resource_type="org",
        resource_id=org.id,
        resource_name=org.name,
        changes={"quota_overrides": [before, dict(checked)]},
        org_id=org.id,
    )
    return dict(checked)


def _set_plan(session: Session, actor: Actor, org: Org, plan: str) -> None:
    if org.plan == plan:
        return
    before, org.plan = org.plan, plan
    quota.limits_changed(session, org.id, utcnow())
    record(
        session,
        actor=actor,
        action=Action.UPDATE,
        resource_type="org",
        resource_id=org.id,
        resource_name=org.name,
        changes={"plan": [before, plan]},
        org_id=org.id,
    )


def handle_webhook(
    session: Session, *, payload: bytes, signature: str | None, settings: Settings
) -> WebhookReceived:
    """Verify and apply one Stripe event, once: a replayed event (same id) changes nothing."""
    secret = settings.stripe_webhook_secret
    if secret is None or not secret.get_secret_value():
        raise ServiceUnavailable(
            "Stripe webhooks are not configured on this server (DAGY_STRIPE_WEBHOOK_SECRET is not set).",
            code="billing_not_configured",
        )
    event = stripe_api.verified_event(payload, signature, secret.get_secret_value())
    event_type = str(event.get("type", ""))
    obj = ((event.get("data") or {}).get("object")) or {}
    org = _event_org(session, event_type, obj)
    first = repo.add_event(
        session, event_id=event["id"], event_type=event_type, org_id=org.id if org else None, now=utcnow()
    )
    if first and org is not None:
        _apply(session, org, event_type, obj, settings)
    return WebhookReceived(received=True)


def _event_org(session: Session, event_type: str, obj: dict[str, Any]) -> Org | None:
    if event_type == "checkout.session.completed":
        org_id = obj.get("client_reference_id")
        return repo.get_org(session, org_id, lock=True) if isinstance(org_id, str) else None
    customer = obj.get("customer") if isinstance(obj.get("customer"), str) else None
    subscription = (
        obj.get("id") if event_type.startswith("customer.subscription.") else obj.get("subscription")
    )
    return repo.find_org_for_stripe(
        session, customer_id=customer, subscription_id=subscription if isinstance(subscription, str) else None
    )


def _apply(session: Session, org: Org, event_type: str, obj: dict[str, Any], settings: Settings) -> None:
    if event_type == "checkout.session.completed":
        plan = (obj.get("metadata") or {}).get("plan")
        if plan in PLANS:
            _set_plan(session, SYSTEM_ACTOR, org, plan)
        org.stripe_customer_id = _text(obj.get("customer")) or org.stripe_customer_id
        org.stripe_subscription_id = _text(obj.get("subscription")) or org.stripe_subscription_id
        org.subscription_status = "active"
        org.billing_email = _text((obj.get("customer_details") or {}).get("email")) or org.billing_email
    elif event_type in ("customer.subscription.updated", "customer.subscription.deleted"):
        _apply_subscription(session, org, event_type, obj, settings)
    elif event_type == "invoice.payment_failed":
        org.subscription_status = "past_due"


def _apply_subscription(
    session: Session, org: Org, event_type: str, obj: dict[str, Any], settings: Settings
) -> None:
    status = "canceled" if event_type.endswith(".deleted") else _text(obj.get("status")) or "active"
    org.subscription_status = status
    org.billing_period_start = (
        stripe_api.from_epoch(obj.get("current_period_start")) or org.billing_period_start
    )
    org.billing_period_end = stripe_api.from_epoch(obj.get("current_period_end")) or org.billing_period_end
    if status in _ENDED:
        _set_plan(session, SYSTEM_ACTOR, org, FREE)
        org.stripe_subscription_id = None
        return
    plan = _plan_of_subscription(obj, settings)
    if plan is not None:
        _set_plan(session, SYSTEM_ACTOR, org, plan)


def _plan_of_subscription(obj: dict[str, Any], settings: Settings) -> str | None:
    """The plan a subscription is for: its price (the configured price ids), else its metadata."""
    prices = {
        settings.stripe_price_professional: "professional",
        settings.stripe_price_enterprise: "enterprise",
    }
    for item in (obj.get("items") or {}).get("data") or []:
        price = ((item or {}).get("price") or {}).get("id")
        if price and price in prices:
            return prices[price]
    plan = (obj.get("metadata") or {}).get("plan")
    return plan if plan in PLANS else None


def _text(value: Any) -> str | None:
    return value[:255] if isinstance(value, str) and value else None
