"""`/usage`: summary, timeseries, quota, dashboard and costs from runs a worker reported; the daily
roll-up gives the same figures and never counts twice; API calls and errors are metered."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from dagy.server.db.base import utcnow
from dagy.server.db.models import Run, UsageDaily
from dagy.server.domains.billing.plans import PRICES
from dagy.server.domains.usage.metering import rollup_day
from dagy.server.services.usage import flush_meter, roll_up_once
from dagy.server.settings import Settings
from tests.factories import Caller, add_member, new_org
from tests.flow_factories import (
    claim_runs,
    python_node,
    register_flow,
    spec,
    trigger,
    worker_headers,
    worker_post,
)

OK = "def main(inputs, params):\n    return params\n"

pytestmark = pytest.mark.settings("own_pool_settings")


def finish(client: TestClient, settings: Settings, run_id: str, status: str, seconds: float) -> None:
    """Report the claimed run's one node (wall time `seconds`) and its result."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(seconds=seconds)
    body = {
        "worker_id": "w1",
        "attempt": 1,
        "status": status,
        "output": {},
        "error": {"type": "exception", "message": "boom"} if status == "failed" else None,
        "node_runs": [
            {"node_id": "only", "node_type": "task", "status": "running", "started_at": start.isoformat()},
            {"node_id": "only", "node_type": "task", "status": status, "completed_at": end.isoformat()},
        ],
    }
    answer = worker_post(client, settings, run_id, "complete", body)
    assert answer.status_code == 200, answer.text


def usage_of_two_runs(client: TestClient, settings: Settings, owner: Caller, pool: str) -> str:
    """A completed run (2.5 s of micro) and a failed one (1.5 s of micro); the flow's name."""
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    ids = [trigger(client, owner, flow, execution_mode="micro")["run_id"] for _ in range(2)]
    claimed = claim_runs(client, worker_headers(settings), pool)
    assert sorted(r["run_id"] for r in claimed) == sorted(ids)
    finish(client, settings, ids[0], "completed", 2.5)
    finish(client, settings, ids[1], "failed", 1.5)
    return flow


def get(client: TestClient, caller: Caller, path: str, **params: Any) -> Any:
    answer = client.get(f"/v1/usage/{path}", headers=caller.headers, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


EXPECTED_COST = round(PRICES.cost(runs=2, tasks=2, compute_seconds={"micro": 4.0}), 4)


def test_summary_timeseries_costs_and_dashboard(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = usage_of_two_runs(client, settings, owner, pool)
    flush_meter(app.state.db, app.state.usage_meter)
    summary = get(client, owner, "summary")
    assert (summary["run_count"], summary["task_count"], summary["compute_seconds"]) == (2, 2, 4.0)
    assert summary["error_count"] == 1 and summary["api_call_count"] >= 3
    assert summary["estimated_cost_usd"] == pytest.approx(EXPECTED_COST)
    assert summary["period_start"].endswith("-01T00:00:00Z") and summary["period_end"].endswith("T23:59:59Z")

    today = datetime.now(UTC).date()
    start = (today - timedelta(days=2)).isoformat()
    series = get(client, owner, "timeseries", start_date=start, end_date=today.isoformat())["items"]
    assert [item["date"] for item in series] == [(today - timedelta(days=i)).isoformat() for i in (2, 1, 0)]
    assert [item["run_count"] for item in series] == [0, 0, 2]
    assert series[0] == {
        "date": start,
        "run_count": 0,
        "task_count": 0,
        "compute_seconds": 0.0,
        "api_call_count": 0,
        "error_count": 0,
        "cost_usd": 0.0,
    }

    costs = get(client, owner, "costs")
    assert costs["by_flow"] == [{"flow_name": flow, "cost_usd": pytest.approx(EXPECTED_COST), "run_count": 2}]
    assert costs["by_executor"] == [
        {"executor": pool, "cost_usd": pytest.approx(EXPECTED_COST), "task_count": 2}
    ]

    dashboard = get(client, owner, "dashboard")
    assert dashboard["summary"]["run_count"] == 2 and len(dashboard["timeseries"]) == 30
    assert dashboard["top_flows"][0]["flow_name"] == flow and dashboard["quota"]["plan"] == "enterprise"


def test_bad_ranges_are_400(client: TestClient, owner: Caller) -> None:
    for params in (
        {"start_date": "yesterday"},
        {"start_date": "2026-13-01"},
        {"start_date": "2026-03-10", "end_date": "2026-03-01"},
        {"start_date": "2020-01-01", "end_date": "2026-01-01"},
    ):
        for path in ("timeseries", "costs"):
            answer = client.get(f"/v1/usage/{path}", headers=owner.headers, params=params)
            assert answer.status_code == 400 and answer.json()["error"] == "invalid_input", (path, params)


def test_quota_shows_limits_usage_and_warnings(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client, plan="free")
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    trigger(client, owner, flow)
    quota = get(client, owner, "quota")
    assert quota["plan"] == "free" and quota["limits"]["monthly_runs"] == 100
    assert quota["current_usage"] == {"monthly_runs": 1, "monthly_tasks": 0, "concurrent_runs": 1}
    assert quota["percentages"] == {"monthly_runs": 1.0, "monthly_tasks": 0.0, "concurrent_runs": 50.0}
    assert (quota["warning"], quota["over_limit"]) == (False, False)
    trigger(client, owner, flow)
    quota = get(client, owner, "quota")
    assert (quota["warning"], quota["over_limit"], quota["percentages"]["concurrent_runs"]) == (
        True,
        True,
        100.0,
    )
    assert quota["reset_at"].endswith("-01T00:00:00Z")


def test_the_roll_up_gives_the_live_figures_and_never_counts_twice(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    usage_of_two_runs(client, settings, owner, pool)
    today = datetime.now(UTC).date()
    keys = ("run_count", "task_count", "compute_seconds", "cost_usd")
    on_today = {"start_date": today.isoformat(), "end_date": today.isoformat()}
    live = {key: get(client, owner, "timeseries", **on_today)["items"][0][key] for key in keys}
    assert (live["run_count"], live["compute_seconds"]) == (2, 4.0)
    yesterday = today - timedelta(days=1)
    with app.state.db.transaction(write=True) as session:  # the runs happened yesterday
        moved = datetime.combine(yesterday, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
        session.execute(update(Run).where(Run.org_id == owner.org_id).values(created_at=moved))
    on_yesterday = {"start_date": yesterday.isoformat(), "end_date": yesterday.isoformat()}
    for _ in range(2):  # recomputed from the rows, replaced: the same figures every time
        roll_up_once(app.state.db, settings)
        item = get(client, owner, "timeseries", **on_yesterday)["items"][0]
        assert {key: item[key] for key in keys} == live
        assert rolled(app, owner.org_id, yesterday) == [(2, 1, 2, 4.0)]


def rolled(app: FastAPI, org_id: str, day: date) -> list[tuple[int, int, int, float]]:
    with app.state.db.transaction(write=False) as session:
        rows = session.execute(select(UsageDaily).where(UsageDaily.org_id == org_id, UsageDaily.day == day))
        return [(r.runs, r.failed_runs, r.node_runs, r.compute_seconds) for r in rows.scalars()]


def test_api_calls_and_errors_are_metered_per_org(app: FastAPI, client: TestClient, owner: Caller) -> None:
    other = new_org(app, client)
    flush_meter(app.state.db, app.state.usage_meter)
    before = get(client, owner, "summary")
    for _ in range(3):
        client.get("/v1/flows", headers=owner.headers)
    client.get("/v1/runs/run_missing", headers=owner.headers)  # a 404: an error
    flush_meter(app.state.db, app.state.usage_meter)
    after = get(client, owner, "summary")
    # the three lists, the 404 and the first summary read
    assert after["api_call_count"] - before["api_call_count"] == 5
    assert after["error_count"] - before["error_count"] == 1
    assert get(client, other, "summary")["api_call_count"] <= 1


def test_billing_read_is_needed(app: FastAPI, client: TestClient, owner: Caller) -> None:
    developer = add_member(app, client, owner, "developer")
    viewer = add_member(app, client, owner, "viewer")
    for path in ("summary", "timeseries", "quota", "dashboard", "costs"):
        assert client.get(f"/v1/usage/{path}", headers=developer.headers).status_code == 403
        assert client.get(f"/v1/usage/{path}", headers=viewer.headers).status_code == 200
    assert client.get("/v1/usage/summary").status_code == 401


def test_two_roll_ups_of_one_day_at_once_both_succeed(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    """Two `dagy services` side by side recompute the same day at the same moment: the second waits
    for the first and replaces its rows, instead of failing on the rows the first inserted."""
    if app.state.db.is_sqlite:
        pytest.skip("SQLite writes one transaction at a time")
    usage_of_two_runs(client, settings, owner, pool)
    today = datetime.now(UTC).date()

    def second_roll_up() -> None:
        with app.state.db.transaction(write=True) as session:
            rollup_day(session, day=today, now=utcnow())

    with ThreadPoolExecutor(1) as threads:
        with app.state.db.transaction(write=True) as session:  # the first, not committed yet
            rollup_day(session, day=today, now=utcnow())
            second = threads.submit(second_roll_up)
            deadline = time.monotonic() + 10
            while not waiting_on_a_lock(app) and not second.done():
                assert time.monotonic() < deadline, "the second roll-up neither waited nor ended"
                time.sleep(0.05)
        second.result()
    assert rolled(app, owner.org_id, today) == [(2, 1, 2, 4.0)]


def waiting_on_a_lock(app: FastAPI) -> bool:
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with app.state.db.engine.connect() as conn:
        return bool(conn.execute(query).scalar_one())
