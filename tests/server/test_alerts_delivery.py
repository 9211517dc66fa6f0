"""Alerts end to end: a run transition writes its deliveries in its own transaction, the dispatcher
sends them to real peers on loopback (an HTTP receiver for Slack, webhooks and PagerDuty, aiosmtpd
for email), retries with backoff, survives a restart, and the SLA checker fires once per run."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dagy.server.db.base import utcnow
from dagy.server.db.engine import Database, create_database
from dagy.server.db.models import AlertDelivery
from dagy.server.domains.notifications import dispatch
from dagy.server.settings import AlertSettings, Settings
from tests.factories import Caller, unique
from tests.flow_factories import (
    claim_runs,
    python_node,
    register_flow,
    spec,
    trigger,
    wait_for_run,
    worker_headers,
    worker_post,
)
from tests.server.alert_peers import mailbox, receiving

FAST = AlertSettings(retry_delays_seconds=[0.05] * 9, timeout_seconds=2, dispatch_seconds=0.1)
pytestmark = pytest.mark.settings("own_pool_settings", allow_private_network=True, alerts=FAST)

FAIL = "def main(inputs, params):\n    raise ValueError('bad input')\n"
ERROR = {"type": "exception", "message": "ValueError: bad input"}


Drain = Callable[[Callable[[], bool]], None]


@pytest.fixture
def drain(app: FastAPI, settings: Settings) -> Iterator[Drain]:
    """Run the dispatcher's passes (as the background loop does) until a condition holds."""
    with ThreadPoolExecutor(4) as threads:
        yield lambda until: drain_with(app.state.db, settings, threads, until)


def make_channel(client: TestClient, caller: Caller, channel_type: str, config: dict[str, Any]) -> str:
    body = {"name": unique("ch"), "channel_type": channel_type, "config_json": config}
    response = client.post("/v1/channels", headers=caller.headers, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["channel_id"])


def make_rule(
    client: TestClient, caller: Caller, trigger_name: str, channels: list[str], **extra: Any
) -> str:
    body = {"name": unique("rule"), "trigger": trigger_name, "channel_ids": channels, **extra}
    response = client.post("/v1/alert-rules", headers=caller.headers, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["rule_id"])


def a_flow(client: TestClient, owner: Caller, pool: str) -> str:
    return register_flow(client, owner, spec(python_node("only", FAIL)), default_executor=pool)


def run_attempt(
    client: TestClient, settings: Settings, owner: Caller, flow: str, pool: str, **body: Any
) -> str:
    """A run of `flow` claimed by worker w1 (attempt 1)."""
    run_id = str(trigger(client, owner, flow, **body)["run_id"])
    assert [r["run_id"] for r in claim_runs(client, worker_headers(settings), pool)] == [run_id]
    return run_id


def finish(client: TestClient, settings: Settings, run_id: str, status: str, attempt: int = 1) -> str:
    body: dict[str, Any] = {"worker_id": "w1", "attempt": attempt, "status": status}
    body |= {"error": ERROR} if status == "failed" else {"output": {"ok": True}}
    response = worker_post(client, settings, run_id, "complete", body)
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def deliveries(client: TestClient, owner: Caller, rule_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/alert-rules/{rule_id}/deliveries", headers=owner.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def drain_with(
    db: Database, settings: Settings, threads: ThreadPoolExecutor, until: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + 15
    while not until():
        assert time.monotonic() < deadline, "the deliveries were not sent in time"
        if dispatch.dispatch_once(db, settings, threads) == 0:
            time.sleep(0.02)


def verify_signature(secret: str, request: dict[str, Any]) -> None:
    header = request["headers"]["X-Dagy-Signature"]
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + request["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)


def test_a_failed_run_is_delivered_to_a_signed_webhook(
    client: TestClient,
    settings: Settings,
    owner: Caller,
    pool: str,
    drain: Drain,
) -> None:
    flow = a_flow(client, owner, pool)
    with receiving() as receiver:
        hook = make_channel(client, owner, "webhook", {"url": f"{receiver.url}/hook", "secret": "sig-key"})
        rule_id = make_rule(client, owner, "on_failure", [hook], flow_name=flow)
        run_id = run_attempt(client, settings, owner, flow, pool)
        assert finish(client, settings, run_id, "failed") == "failed"
        [pending] = deliveries(client, owner, rule_id)  # written with the transition
        assert (pending["status"], pending["attempts"], pending["run_id"]) == ("pending", 0, run_id)
        drain(lambda: len(receiver.requests) >= 1)
        [request] = receiver.requests
        verify_signature("sig-key", request)
        body = receiver.json_bodies()[0]
        assert (body["event"], body["flow_name"], body["run_id"], body["status"]) == (
            "on_failure",
            flow,
            run_id,
            "failed",
        )
        assert body["error"] == "exception: ValueError: bad input"
        assert body["url"].endswith(f"/runs/{run_id}")
        assert body["duration_seconds"] is not None
        assert request["headers"]["X-Dagy-Event"] == "on_failure"
        [sent] = deliveries(client, owner, rule_id)
        assert (sent["status"], sent["attempts"], sent["last_error"], sent["channel_id"]) == (
            "sent",
            1,
            None,
            hook,
        )


def test_rules_match_by_trigger_flow_and_enabled(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = a_flow(client, owner, pool)
    other_flow = a_flow(client, owner, pool)
    hook = make_channel(client, owner, "webhook", {"url": "http://127.0.0.1:9/never"})
    all_flows = make_rule(client, owner, "on_failure", [hook])
    this_flow = make_rule(client, owner, "on_failure", [hook], flow_name=flow)
    other = make_rule(client, owner, "on_failure", [hook], flow_name=other_flow)
    successes = make_rule(client, owner, "on_success", [hook])
    disabled = make_rule(client, owner, "on_failure", [hook], enabled=False)
    run_id = run_attempt(client, settings, owner, flow, pool)
    finish(client, settings, run_id, "failed")
    counts = {
        name: len(deliveries(client, owner, r))
        for name, r in [
            ("all", all_flows),
            ("this", this_flow),
            ("other", other),
            ("success", successes),
            ("disabled", disabled),
        ]
    }
    assert counts == {"all": 1, "this": 1, "other": 0, "success": 0, "disabled": 0}


def test_slack_and_a_retry_then_success_resolve_pagerduty(
    client: TestClient,
    settings: Settings,
    owner: Caller,
    pool: str,
    drain: Drain,
) -> None:
    flow = a_flow(client, owner, pool)
    with receiving() as slack, receiving(status=202, answer=b'{"status":"success"}') as pagerduty:
        slack_id = make_channel(
            client, owner, "slack", {"webhook_url": f"{slack.url}/services/x", "channel": "#ops"}
        )
        pd_config = {"routing_key": "R1", "severity": "critical", "events_url": f"{pagerduty.url}/v2/enqueue"}
        pd_id = make_channel(client, owner, "pagerduty", pd_config)
        make_rule(client, owner, "on_retry", [slack_id, pd_id], flow_name=flow)
        run_id = run_attempt(client, settings, owner, flow, pool, max_retries=1)
        assert finish(client, settings, run_id, "failed") == "queued"
        claim_runs(client, worker_headers(settings), pool)
        assert finish(client, settings, run_id, "completed", attempt=2) == "completed"
        drain(lambda: len(pagerduty.requests) >= 2 and len(slack.requests) >= 1)

        [message] = slack.json_bodies()
        assert message["channel"] == "#ops"
        assert flow in message["text"] and run_id in message["text"]
        assert "failed and will be retried" in message["text"]
        assert "Error: exception: ValueError: bad input" in message["text"]
        triggered, resolved = pagerduty.json_bodies()
        assert (triggered["event_action"], triggered["dedup_key"], triggered["routing_key"]) == (
            "trigger",
            run_id,
            "R1",
        )
        assert triggered["payload"]["severity"] == "critical"
        assert triggered["payload"]["custom_details"]["run_id"] == run_id
        assert resolved == {"routing_key": "R1", "dedup_key": run_id, "event_action": "resolve"}


def test_an_email_is_sent_over_smtp(
    client: TestClient,
    settings: Settings,
    owner: Caller,
    pool: str,
    drain: Drain,
) -> None:
    flow = a_flow(client, owner, pool)
    with mailbox() as box:
        email = make_channel(
            client,
            owner,
            "email",
            {
                "to": ["ops@example.com"],
                "smtp_host": "127.0.0.1",
                "smtp_port": box.port,
                "from_address": "dagy@example.com",
            },
        )
        make_rule(client, owner, "on_failure", [email])
        run_id = run_attempt(client, settings, owner, flow, pool)
        finish(client, settings, run_id, "failed")
        drain(lambda: len(box.envelopes) >= 1)
        message = box.message()
        assert box.envelopes[0].rcpt_tos == ["ops@example.com"]
        assert message["From"] == "dagy@example.com"
        assert flow in message["Subject"] and "failed" in message["Subject"]
        text = message.get_content()
        assert f"Run: {run_id}" in text and "Error: exception: ValueError: bad input" in text
        assert f"/runs/{run_id}" in text


def test_a_receiver_failing_three_times_gets_the_fourth_attempt(
    client: TestClient,
    settings: Settings,
    owner: Caller,
    pool: str,
    drain: Drain,
) -> None:
    flow = a_flow(client, owner, pool)
    with receiving(failures=3) as receiver:
        hook = make_channel(client, owner, "webhook", {"url": f"{receiver.url}/hook"})
        rule_id = make_rule(client, owner, "on_failure", [hook])
        finish(client, settings, run_attempt(client, settings, owner, flow, pool), "failed")
        drain(lambda: deliveries(client, owner, rule_id)[0]["status"] == "sent")
        [sent] = deliveries(client, owner, rule_id)
        assert sent["attempts"] == 4
        assert len(receiver.requests) == 4
        assert len({r["headers"]["X-Dagy-Delivery"] for r in receiver.requests}) == 1


@pytest.mark.settings(alerts=AlertSettings(retry_delays_seconds=[0.05]))
def test_a_delivery_fails_after_its_last_attempt(
    client: TestClient, settings: Settings, owner: Caller, pool: str, drain: Drain
) -> None:
    flow = a_flow(client, owner, pool)
    with receiving(failures=100) as receiver:
        hook = make_channel(client, owner, "webhook", {"url": f"{receiver.url}/hook"})
        rule_id = make_rule(client, owner, "on_failure", [hook])
        finish(client, settings, run_attempt(client, settings, owner, flow, pool), "failed")
        drain(lambda: deliveries(client, owner, rule_id)[0]["status"] == "failed")
        [failed] = deliveries(client, owner, rule_id)
        assert (failed["attempts"], failed["next_attempt_at"], len(receiver.requests)) == (2, None, 2)
        assert "HTTP 500" in failed["last_error"]


@pytest.mark.settings(alerts=AlertSettings(retry_delays_seconds=[0.05] * 9, timeout_seconds=0.5))
def test_a_receiver_that_times_out_is_retried_and_never_blocks_runs(
    client: TestClient, settings: Settings, owner: Caller, pool: str, drain: Drain
) -> None:
    flow = a_flow(client, owner, pool)
    with receiving(stalls=1) as receiver:
        hook = make_channel(client, owner, "webhook", {"url": f"{receiver.url}/hook"})
        rule_id = make_rule(client, owner, "on_failure", [hook])
        started = time.monotonic()
        finish(client, settings, run_attempt(client, settings, owner, flow, pool), "failed")
        assert time.monotonic() - started < 2  # the transition never waits for a delivery
        drain(lambda: deliveries(client, owner, rule_id)[0]["status"] == "sent")
        [sent] = deliveries(client, owner, rule_id)
        assert sent["attempts"] == 2
        assert len(receiver.requests) == 2


def test_a_restarted_dispatcher_sends_a_delivery_once(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    """The first dispatcher fails an attempt and goes away mid-backoff; a new one (a new engine, as a
    restarted server would have) sends the delivery once it is due, and only once."""
    slow = settings.model_copy(update={"alerts": AlertSettings(retry_delays_seconds=[1.0] * 9)})
    flow = a_flow(client, owner, pool)
    with receiving(failures=1) as receiver:
        hook = make_channel(client, owner, "webhook", {"url": f"{receiver.url}/hook"})
        rule_id = make_rule(client, owner, "on_failure", [hook])
        finish(client, settings, run_attempt(client, settings, owner, flow, pool), "failed")
        with ThreadPoolExecutor(2) as threads:
            drain_with(app.state.db, slow, threads, lambda: len(receiver.requests) == 1)
        [waiting] = deliveries(client, owner, rule_id)
        assert (waiting["status"], waiting["attempts"]) == ("pending", 1)
        assert waiting["last_error"] and "HTTP 500" in waiting["last_error"]

        restarted = create_database(settings.database_url)
        try:
            with ThreadPoolExecutor(2) as threads:
                _sends(restarted, slow, threads)
                assert len(receiver.requests) == 1  # not due yet: the backoff holds across the restart
                deadline = time.monotonic() + 10
                while deliveries(client, owner, rule_id)[0]["status"] != "sent":
                    assert time.monotonic() < deadline
                    _sends(restarted, slow, threads)
                    time.sleep(0.05)
                for _ in range(3):
                    _sends(restarted, slow, threads)
        finally:
            restarted.dispose()
        assert len(receiver.requests) == 2  # one failure, one success: nothing sent twice
        assert deliveries(client, owner, rule_id)[0]["attempts"] == 2


def _sends(db: Any, settings: Settings, threads: ThreadPoolExecutor) -> int:
    return dispatch.dispatch_once(db, settings, threads)


def test_the_sla_checker_fires_once_per_run(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = a_flow(client, owner, pool)
    other_flow = a_flow(client, owner, pool)
    hook = make_channel(client, owner, "webhook", {"url": "http://127.0.0.1:9/never"})
    rule_id = make_rule(client, owner, "on_sla_breach", [hook], flow_name=flow, sla_seconds=60)
    late = str(trigger(client, owner, flow)["run_id"])  # stays queued: nobody claims it
    trigger(client, owner, other_flow)
    db = app.state.db
    with db.transaction(write=True) as session:
        assert dispatch.check_slas(session, now=utcnow()) == 0  # within its SLA
    later = utcnow() + timedelta(seconds=61)
    for _ in range(2):
        with db.transaction(write=True) as session:
            dispatch.check_slas(session, now=later)
    [breach] = deliveries(client, owner, rule_id)
    assert (breach["run_id"], breach["event"]) == (late, "on_sla_breach")
    with db.transaction(write=False) as session:
        row = session.execute(select(AlertDelivery).where(AlertDelivery.rule_id == rule_id)).scalar_one()
        assert row.payload["sla_seconds"] == 60
        assert row.payload["status"] == "queued"


def test_an_org_without_rules_writes_no_delivery(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = a_flow(client, owner, pool)
    run_id = run_attempt(client, settings, owner, flow, pool)
    finish(client, settings, run_id, "failed")
    with app.state.db.transaction(write=False) as session:
        assert session.execute(select(AlertDelivery).where(AlertDelivery.run_id == run_id)).first() is None


def test_the_background_dispatcher_delivers_a_real_failed_run(
    running: tuple[FastAPI, TestClient], owner: Caller
) -> None:
    """`dagy server` as it runs: the embedded worker fails the run, the dispatcher sends the alert."""
    _app, client = running
    flow = register_flow(client, owner, spec(python_node("only", FAIL)))
    with receiving() as receiver:
        hook = make_channel(client, owner, "webhook", {"url": f"{receiver.url}/hook"})
        make_rule(client, owner, "on_failure", [hook], flow_name=flow)
        run_id = trigger(client, owner, flow)["run_id"]
        wait_for_run(client, owner, run_id)
        deadline = time.monotonic() + 20
        while not receiver.requests:
            assert time.monotonic() < deadline, "no alert arrived"
            time.sleep(0.05)
        body = receiver.json_bodies()[0]
        assert (body["run_id"], body["event"]) == (run_id, "on_failure")
        assert "bad input" in body["error"]
