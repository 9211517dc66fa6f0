"""Run quotas on every path that creates a run: the API, a schedule (fired and by hand), a webhook
and a sensor's test; the reference's 429; refusals recorded and metered; the count is exact under
concurrency (a real server process, two on PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dagy.server.db.models import ScheduleFire, SensorEvent
from dagy.server.domains.billing import service as billing
from dagy.server.errors import InvalidInput
from dagy.server.identity import SYSTEM_ACTOR
from dagy.server.services.scheduler import tick
from dagy.server.services.usage import flush_meter
from dagy.server.settings import Settings
from tests.factories import Caller, new_org, unique
from tests.flow_factories import python_node, register_flow, spec, trigger
from tests.worker.live import api_for, serving

OK = "def main(inputs, params):\n    return params\n"

# The scheduler's clock is injected here: a database of the module's own keeps other modules'
# schedules out of its ticks.
pytestmark = pytest.mark.settings("own_database_settings")


def limited(app: FastAPI, client: TestClient, **overrides: int | None) -> Caller:
    """A fresh free org whose limits are the free plan's with `overrides`."""
    owner = new_org(app, client, plan="free")
    with app.state.db.transaction(write=True) as session:
        billing.set_quota_overrides(session, actor=SYSTEM_ACTOR, org_id=owner.org_id, overrides=overrides)
    return owner


def next_month_start() -> str:
    now = datetime.now(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return f"{year:04d}-{month:02d}-01T00:00:00Z"


def errors_today(app: FastAPI, client: TestClient, caller: Caller) -> int:
    flush_meter(app.state.db, app.state.usage_meter)
    today = datetime.now(UTC).date().isoformat()
    series = client.get(
        "/v1/usage/timeseries", headers=caller.headers, params={"start_date": today, "end_date": today}
    )
    return int(series.json()["items"][0]["error_count"])


def test_the_monthly_quota_refuses_with_the_reference_body(app: FastAPI, client: TestClient) -> None:
    owner = limited(app, client, monthly_runs=2, concurrent_runs=None)
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    for _ in range(2):
        trigger(client, owner, flow)
    trigger(client, owner, flow, execute=False)  # a pending run never runs: not counted
    refused = client.post("/v1/runs", headers=owner.headers, json={"flow_name": flow})
    assert refused.status_code == 429
    assert refused.json() == {
        "error": "quota_exceeded",
        "message": "Monthly run quota exhausted",
        "limit": 2,
        "current_usage": 2,
        "reset_at": next_month_start(),
    }
    assert int(refused.headers["Retry-After"]) > 0
    quota = client.get("/v1/usage/quota", headers=owner.headers).json()
    assert quota["current_usage"]["monthly_runs"] == 2 and quota["over_limit"] is True
    assert errors_today(app, client, owner) == 1  # the 429, metered as the org's error


def test_an_org_that_gets_a_limit_mid_month_counts_the_runs_it_already_made(
    app: FastAPI, client: TestClient
) -> None:
    """An unlimited org keeps no counter; given a limit, its counter starts from the month's runs."""
    owner = new_org(app, client, plan="enterprise")
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    for _ in range(2):
        trigger(client, owner, flow)
    assert client.get("/v1/usage/quota", headers=owner.headers).json()["current_usage"]["monthly_runs"] == 2
    with app.state.db.transaction(write=True) as session:
        billing.set_quota_overrides(
            session, actor=SYSTEM_ACTOR, org_id=owner.org_id, overrides={"monthly_runs": 3}
        )
    trigger(client, owner, flow)  # the third of three
    refused = client.post("/v1/runs", headers=owner.headers, json={"flow_name": flow})
    assert refused.status_code == 429, refused.text
    assert (refused.json()["limit"], refused.json()["current_usage"]) == (3, 3)
    with app.state.db.transaction(write=True) as session:  # unlimited again, then limited again
        billing.set_quota_overrides(
            session, actor=SYSTEM_ACTOR, org_id=owner.org_id, overrides={"monthly_runs": None}
        )
    trigger(client, owner, flow)
    with app.state.db.transaction(write=True) as session:
        billing.set_quota_overrides(
            session, actor=SYSTEM_ACTOR, org_id=owner.org_id, overrides={"monthly_runs": 4}
        )
    again = client.post("/v1/runs", headers=owner.headers, json={"flow_name": flow})
    assert (again.status_code, again.json()["current_usage"]) == (429, 4)


def test_the_concurrent_quota_counts_queued_and_running_runs(app: FastAPI, client: TestClient) -> None:
    owner = limited(app, client, concurrent_runs=1)
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    first = trigger(client, owner, flow)["run_id"]
    refused = client.post("/v1/runs", headers=owner.headers, json={"flow_name": flow})
    assert refused.status_code == 429, refused.text
    assert (refused.json()["limit"], refused.json()["current_usage"]) == (1, 1)
    assert refused.json()["message"] == "Concurrent run limit reached"
    assert client.post(f"/v1/runs/{first}/cancel", headers=owner.headers).status_code == 200
    trigger(client, owner, flow)  # a slot is free again
    quota = client.get("/v1/usage/quota", headers=owner.headers).json()
    # the refused run was given back: two runs counted this month
    assert quota["current_usage"] == {"monthly_runs": 2, "monthly_tasks": 0, "concurrent_runs": 1}


def test_a_schedule_records_the_refusal_and_meters_it(
    app: FastAPI, client: TestClient, settings: Settings
) -> None:
    owner = limited(app, client, monthly_runs=0)
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    body = {"schedule_id": unique("sched"), "flow_name": flow, "mode": "cron", "cron_expression": "0 * * * *"}
    made = client.post("/v1/schedules", headers=owner.headers, json=body).json()
    by_hand = client.post(f"/v1/schedules/{made['schedule_id']}/trigger", headers=owner.headers, json={})
    assert by_hand.status_code == 429 and by_hand.json()["error"] == "quota_exceeded"
    first = datetime.fromisoformat(made["next_run_at"].replace("Z", "+00:00"))
    tick(app.state.db, settings=settings, now=first + timedelta(milliseconds=100))
    with app.state.db.transaction(write=False) as session:
        rows = list(session.execute(select(ScheduleFire).where(ScheduleFire.outcome == "refused")).scalars())
    mine = [row for row in rows if row.detail and row.detail.get("error") == "quota_exceeded"]
    assert len(mine) == 1 and mine[0].run_id is None
    assert mine[0].detail is not None and mine[0].detail["message"] == "Monthly run quota exhausted"
    client.patch(f"/v1/schedules/{made['schedule_id']}", headers=owner.headers, json={"enabled": False})
    assert errors_today(app, client, owner) == 2  # the by-hand 429 and the fire time's refusal


def test_a_webhook_answers_429_and_a_sensor_test_records_the_refusal(
    app: FastAPI, client: TestClient
) -> None:
    owner = limited(app, client, monthly_runs=0)
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    body = {"name": unique("sensor"), "sensor_type": "webhook", "flow_name": flow}
    sensor = client.post("/v1/sensors", headers=owner.headers, json=body).json()
    answer = client.post(f"/v1/webhooks/{sensor['webhook_token']}", json={"n": 1})
    assert answer.status_code == 429 and answer.json()["limit"] == 0, answer.text
    assert "Retry-After" in answer.headers
    tested = client.post(f"/v1/sensors/{sensor['sensor_id']}/test", headers=owner.headers)
    assert tested.status_code == 400 and "quota" in tested.json()["message"].lower()
    with app.state.db.transaction(write=False) as session:
        events = list(
            session.execute(select(SensorEvent).where(SensorEvent.sensor_id == sensor["sensor_id"])).scalars()
        )
    assert [(e.outcome, e.detail.get("error") if e.detail else None) for e in events] == [
        ("refused", "quota_exceeded")
    ]
    assert errors_today(app, client, owner) >= 2  # the webhook's 429 and the test's refusal


def test_overrides_refuse_negative_or_unknown_limits(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client, plan="free")
    for bad in ({"monthly_runs": -1}, {"monthly_runs": "10"}, {"weekly_runs": 5}):
        with pytest.raises(InvalidInput), app.state.db.transaction(write=True) as session:
            billing.set_quota_overrides(session, actor=SYSTEM_ACTOR, org_id=owner.org_id, overrides=bad)
    with pytest.raises(InvalidInput), app.state.db.transaction(write=True) as session:
        billing.change_plan(session, actor=SYSTEM_ACTOR, org_id=owner.org_id, plan="platinum")
    assert (
        client.post(
            "/v1/orgs", headers=owner.headers, json={"org_name": unique("o"), "plan": "gold"}
        ).status_code
        == 400
    )


def _concurrent_triggers(url: str, owner: Caller, flow: str, count: int) -> list[int]:
    def one(n: int) -> int:
        with api_for(url, owner) as api:  # a connection of its own: any process may answer
            return api.post("/runs", json={"flow_name": flow, "parameters": {"n": n}}).status_code

    with ThreadPoolExecutor(count) as threads:
        return list(threads.map(one, range(count)))


def test_one_run_left_admits_exactly_one_of_twenty_concurrent_triggers(
    app: FastAPI, client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    """Over real HTTP against `dagy server`: on PostgreSQL two processes share the port."""
    owner = limited(app, client, monthly_runs=5, concurrent_runs=None)
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    for _ in range(4):
        trigger(client, owner, flow)
    options = () if app.state.db.is_sqlite else ("--processes", "2")
    with serving(settings, tmp_path, *options) as (url, _):
        statuses = _concurrent_triggers(url, owner, flow, 20)
    assert sorted(statuses) == [202] + [429] * 19
    quota = client.get("/v1/usage/quota", headers=owner.headers).json()
    assert quota["current_usage"]["monthly_runs"] == 5
    runs = client.get("/v1/runs", headers=owner.headers, params={"flow_name": flow, "limit": 100}).json()
    assert len(runs["items"]) == 5
