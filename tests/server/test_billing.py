"""`/billing`: plans, subscription, checkout and portal through the stripe SDK against a local
Stripe stand-in, the webhook with real signatures (the SDK's own helper), replays and tampering."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
import stripe
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.factories import Caller, add_member, new_org, unique

SECRET = "whsec_test_secret"
URLS = {"success_url": "https://example.com/ok", "cancel_url": "https://example.com/cancel"}


class StripeStandIn(BaseHTTPRequestHandler):
    """The few Stripe endpoints Dagy calls, answering as Stripe does; requests are kept."""

    seen: list[tuple[str, dict[str, str]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        StripeStandIn.seen.append((self.path, form))
        if self.path == "/v1/checkout/sessions":
            body = {
                "id": "cs_test_123",
                "object": "checkout.session",
                "url": "https://checkout.stripe.com/c/pay/cs_test_123",
                "expires_at": 1_900_000_000,
            }
        elif self.path == "/v1/billing_portal/sessions":
            body = {
                "id": "bps_123",
                "object": "billing_portal.session",
                "url": "https://billing.stripe.com/p/s",
            }
        else:
            self._answer(404, {"error": {"message": "unknown", "type": "invalid_request_error"}})
            return
        self._answer(200, body)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture(scope="module")
def stripe_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StripeStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def stripe_settings(stripe_url: str) -> dict[str, Any]:
    return {
        "stripe_api_key": SecretStr("sk_test_dagy"),
        "stripe_webhook_secret": SecretStr(SECRET),
        "stripe_api_base": stripe_url,
        "stripe_price_professional": "price_pro",
        "stripe_price_enterprise": "price_ent",
    }


billed = pytest.mark.settings("stripe_settings")


def signed(client: TestClient, event: dict[str, Any], *, secret: str = SECRET, at: int | None = None) -> Any:
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=at)
    return client.post(
        "/v1/billing/webhook",
        content=payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": unique("evt"), "object": "event", "type": kind, "data": {"object": obj}}


def completed(org: Caller, plan: str = "professional") -> dict[str, Any]:
    return event(
        "checkout.session.completed",
        {
            "id": "cs_1",
            "client_reference_id": org.org_id,
            "metadata": {"plan": plan},
            "customer": f"cus_{org.org_id[-8:]}",
            "subscription": f"sub_{org.org_id[-8:]}",
        },
    )


def subscription(client: TestClient, org: Caller) -> dict[str, Any]:
    result: dict[str, Any] = client.get("/v1/billing/subscription", headers=org.headers).json()
    return result


def test_plans_are_public_and_come_from_one_table(client: TestClient) -> None:
    plans = client.get("/v1/billing/plans").json()["items"]
    assert [p["plan_id"] for p in plans] == ["free", "professional", "enterprise"]
    assert plans[0]["limits"]["monthly_runs"] == 100 and plans[0]["limits"]["concurrent_runs"] == 2
    assert plans[1]["monthly_cost_usd"] == 299.0 and plans[1]["limits"]["monthly_runs"] == 10_000


def test_without_a_stripe_key_checkout_and_portal_answer_503(
    app: FastAPI, client: TestClient, owner: Caller
) -> None:
    body = {"plan": "professional", **URLS}
    answer = client.post("/v1/billing/checkout", headers=owner.headers, json=body)
    assert answer.status_code == 503 and answer.json()["error"] == "billing_not_configured"
    answer = client.post(
        "/v1/billing/portal", headers=owner.headers, json={"return_url": URLS["success_url"]}
    )
    assert answer.status_code == 503
    assert subscription(client, owner)["status"] == "active"


@billed
def test_checkout_then_webhook_changes_the_plan_once(app: FastAPI, client: TestClient) -> None:
    org = new_org(app, client, plan="free")
    answer = client.post("/v1/billing/checkout", headers=org.headers, json={"plan": "professional", **URLS})
    assert answer.status_code == 201, answer.text
    assert answer.json()["checkout_id"] == "cs_test_123" and answer.json()["url"].startswith("https://")
    path, form = StripeStandIn.seen[-1]
    assert path == "/v1/checkout/sessions"
    assert form["client_reference_id"] == org.org_id and form["metadata[plan]"] == "professional"
    assert form["line_items[0][price]"] == "price_pro" and form["mode"] == "subscription"

    done = completed(org)
    first = signed(client, done)
    assert first.json() == {"received": True}, first.text
    sub = subscription(client, org)
    assert (sub["plan"], sub["status"], sub["subscription_id"]) == (
        "professional",
        "active",
        f"sub_{org.org_id[-8:]}",
    )
    assert sub["monthly_cost_usd"] == 299.0
    quota = client.get("/v1/usage/quota", headers=org.headers).json()
    assert quota["limits"]["monthly_runs"] == 10_000

    # an operator moves the org back; the same event delivered again changes nothing
    client.post("/v1/billing/portal", headers=org.headers, json={"return_url": "https://example.com/s"})
    cancelled = event("customer.subscription.deleted", {"id": sub["subscription_id"], "customer": "x"})
    assert signed(client, cancelled).status_code == 200
    assert subscription(client, org)["plan"] == "free"
    assert signed(client, done).status_code == 200  # replayed: received, ignored
    assert subscription(client, org)["plan"] == "free"
    audit = client.get("/v1/audit-logs", headers=org.headers, params={"resource_type": "org"}).json()["items"]
    plans = [row["changes"]["plan"] for row in audit if "plan" in (row["changes"] or {})]
    assert ["free", "professional"] in plans and ["professional", "free"] in plans


@billed
def test_subscription_updates_and_failed_payments(app: FastAPI, client: TestClient) -> None:
    org = new_org(app, client, plan="free")
    signed(client, completed(org))
    sub_id = subscription(client, org)["subscription_id"]
    updated = event(
        "customer.subscription.updated",
        {
            "id": sub_id,
            "status": "active",
            "items": {"data": [{"price": {"id": "price_ent"}}]},
            "current_period_start": 1_800_000_000,
            "current_period_end": 1_802_592_000,
        },
    )
    assert signed(client, updated).status_code == 200
    sub = subscription(client, org)
    assert sub["plan"] == "enterprise" and sub["billing_cycle_start"] == "2027-01-15T08:00:00Z"
    failed = event(
        "invoice.payment_failed", {"id": "in_1", "customer": f"cus_{org.org_id[-8:]}", "subscription": sub_id}
    )
    assert signed(client, failed).status_code == 200
    assert subscription(client, org)["status"] == "past_due"


@billed
def test_the_webhook_refuses_bad_stale_and_foreign_signatures(app: FastAPI, client: TestClient) -> None:
    org = new_org(app, client, plan="free")
    done = completed(org)
    assert signed(client, done, secret="whsec_someone_else").status_code == 403
    stale = signed(client, done, at=int(time.time()) - 301)
    assert stale.status_code == 400 and "tolerance" in stale.json()["message"]
    payload = json.dumps(done)
    header = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
    tampered = payload.replace('"professional"', '"enterprise"')
    answer = client.post("/v1/billing/webhook", content=tampered, headers={"Stripe-Signature": header})
    assert answer.status_code == 403
    for bad in ("", "garbage", "t=abc,v1=00", f"t={int(time.time())}"):
        answer = client.post("/v1/billing/webhook", content=payload, headers={"Stripe-Signature": bad})
        assert answer.status_code == 400, (bad, answer.text)
    assert subscription(client, org)["plan"] == "free"  # none of them changed anything


@billed
def test_checkout_refuses_unknown_plans_bad_urls_and_members_without_billing_write(
    app: FastAPI, client: TestClient, owner: Caller
) -> None:
    for body in (
        {"plan": "platinum", **URLS},
        {"plan": "free", **URLS},
        {"plan": "professional", "success_url": "javascript:alert(1)", "cancel_url": URLS["cancel_url"]},
        {"plan": "professional", "success_url": "ftp://example.com/x", "cancel_url": URLS["cancel_url"]},
    ):
        answer = client.post("/v1/billing/checkout", headers=owner.headers, json=body)
        assert answer.status_code == 400, (body, answer.text)
    answer = client.post(
        "/v1/billing/portal", headers=owner.headers, json={"return_url": "https://example.com"}
    )
    assert answer.status_code == 400  # no Stripe customer yet
    admin = add_member(app, client, owner, "admin")
    answer = client.post("/v1/billing/checkout", headers=admin.headers, json={"plan": "professional", **URLS})
    assert answer.status_code == 403
    assert client.get("/v1/billing/subscription", headers=admin.headers).status_code == 200
