"""Node-run reports and retries through the worker protocol: tries, `retrying` reports and their
`on_retry` events, batches that insert and update at once, repeated reports, and the `on_retry`
event of a re-queued attempt (a failure with retries left, a lost lease)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dagy.server.db.models import NodeRun, RunEvent
from dagy.server.settings import Settings
from tests.factories import Caller, new_org
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


def report(
    client: TestClient, settings: Settings, run_id: str, nodes: list[dict[str, Any]], *, attempt: int = 1
) -> Any:
    body = {"worker_id": "w1", "attempt": attempt, "node_runs": nodes}
    return worker_post(client, settings, run_id, "nodes", body)


def node(node_id: str, status: str, **fields: Any) -> dict[str, Any]:
    return {"node_id": node_id, "node_type": "task", "status": status, **fields}


def node_runs(app: FastAPI, run_id: str) -> dict[str, NodeRun]:
    with app.state.db.transaction(write=False) as session:
        rows = session.execute(select(NodeRun).where(NodeRun.run_id == run_id)).scalars()
        return {row.node_id: row for row in rows}


def run_events(app: FastAPI, run_id: str) -> list[RunEvent]:
    with app.state.db.transaction(write=False) as session:
        stmt = select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.created_at, RunEvent.id)
        return list(session.execute(stmt).scalars())


def claimed_run(client: TestClient, settings: Settings, owner: Caller, pool: str, **trigger_body: Any) -> str:
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    run_id = trigger(client, owner, flow, **trigger_body)["run_id"]
    assert [r["run_id"] for r in claim_runs(client, worker_headers(settings), pool)] == [run_id]
    return run_id


def test_retrying_reports_record_tries_and_on_retry_events(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    run_id = claimed_run(client, settings, owner, pool)
    flaky = {"type": "exception", "message": "ConnectionError: reset"}
    first = [
        node("fetch", "running", started_at="2026-01-01T00:00:00Z"),
        node("fetch", "retrying", tries=2, error=flaky),
        node("other", "running", started_at="2026-01-01T00:00:00Z"),
    ]
    assert report(client, settings, run_id, first).json() == {"run_id": run_id, "accepted": 3}
    rows = node_runs(app, run_id)
    assert (rows["fetch"].status, rows["fetch"].tries, rows["fetch"].error) == ("retrying", 2, flaky)
    assert rows["fetch"].started_at is not None and (rows["other"].status, rows["other"].tries) == (
        "running",
        1,
    )

    second = [
        node("fetch", "retrying", tries=3, error=flaky),
        node("fetch", "completed", tries=3, completed_at="2026-01-01T00:00:09Z", output={"rows": 10}),
        node("other", "completed", completed_at="2026-01-01T00:00:01Z", output=1),
        node("late", "completed", started_at="2026-01-01T00:00:00Z", completed_at="2026-01-01T00:00:01Z"),
    ]
    assert report(client, settings, run_id, second).status_code == 200
    rows = node_runs(app, run_id)
    fetch = rows["fetch"]
    assert (fetch.status, fetch.tries, fetch.output, fetch.error) == ("completed", 3, {"rows": 10}, None)
    assert fetch.started_at.isoformat().startswith("2026-01-01T00:00:00")  # the first start stands
    assert (rows["other"].status, rows["late"].status) == ("completed", "completed")

    events = [(e.type, e.node_id, e.payload) for e in run_events(app, run_id)]
    assert events == [
        ("on_retry", "fetch", {"attempt": 1, "tries": 2, "error": flaky}),
        ("on_retry", "fetch", {"attempt": 1, "tries": 3, "error": flaky}),
    ]
    assert all(e.org_id == owner.org_id for e in run_events(app, run_id))


def test_a_repeated_or_late_report_leaves_a_finished_node_alone(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    """A worker that resends a batch (its first send timed out) must not fail the whole batch."""
    run_id = claimed_run(client, settings, owner, pool)
    batch = [node("a", "running"), node("a", "completed", output=1), node("b", "failed", error={"type": "x"})]
    assert report(client, settings, run_id, batch).status_code == 200
    again = [*batch, node("a", "retrying", tries=2), node("c", "running")]
    assert report(client, settings, run_id, again).json()["accepted"] == 5
    rows = node_runs(app, run_id)
    assert {k: (v.status, v.output) for k, v in rows.items()} == {
        "a": ("completed", 1),
        "b": ("failed", None),
        "c": ("running", None),
    }
    assert run_events(app, run_id) == []  # the late `retrying` of a finished node is no retry


def test_reports_are_refused_for_bad_bodies_and_other_attempts(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    run_id = claimed_run(client, settings, owner, pool)
    bad_tries = report(client, settings, run_id, [node("a", "retrying", tries=0)])
    assert bad_tries.status_code == 400 and "tries" in str(bad_tries.json()["details"])
    bad_status = report(client, settings, run_id, [node("a", "sleeping")])
    assert bad_status.status_code == 400
    stale = report(client, settings, run_id, [node("a", "running")], attempt=2)
    assert stale.status_code == 409 and stale.json()["error"] == "lease_lost"


def test_a_batch_of_two_thousand_reports_is_one_request(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    run_id = claimed_run(client, settings, owner, pool)
    started = [node(f"task-{i}", "running", started_at="2026-01-01T00:00:00Z") for i in range(1000)]
    assert report(client, settings, run_id, started).json()["accepted"] == 1000
    finished = [node(f"task-{i}", "completed", output={"i": i}) for i in range(1000)]
    more = [node(f"task-{i}", "completed", output={"i": i}) for i in range(1000, 2000)]
    assert report(client, settings, run_id, finished + more).json()["accepted"] == 2000
    rows = node_runs(app, run_id)
    assert len(rows) == 2000 and all(r.status == "completed" for r in rows.values())
    assert rows["task-7"].output == {"i": 7} and rows["task-7"].started_at is not None
    too_many = report(client, settings, run_id, [node(f"x-{i}", "running") for i in range(2001)])
    assert too_many.status_code == 400


def test_the_result_carries_the_last_node_runs_and_log_lines_once(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    """A short run reports in one request: the result with its node runs and log lines. A repeat
    of that request (its answer was lost) records nothing twice."""
    run_id = claimed_run(client, settings, owner, pool)
    body = {
        "worker_id": "w1",
        "attempt": 1,
        "status": "completed",
        "output": {"ok": True},
        "node_runs": [
            node("only", "running", started_at="2026-01-01T00:00:00Z"),
            node("only", "completed", completed_at="2026-01-01T00:00:01Z", output={"ok": True}),
        ],
        "logs": [{"timestamp": "2026-01-01T00:00:00.5Z", "message": "hello"}],
    }
    for _ in range(2):
        done = worker_post(client, settings, run_id, "complete", body)
        assert done.status_code == 200 and done.json()["status"] == "completed", done.text
    tasks = client.get(f"/v1/runs/{run_id}/tasks", headers=owner.headers).json()["items"]
    assert [(t["node_id"], t["status"], t["output"]) for t in tasks] == [("only", "completed", {"ok": True})]
    logs = client.get(f"/v1/runs/{run_id}/logs", headers=owner.headers).json()["events"]
    assert [line["message"] for line in logs] == ["hello"]
    too_many = body | {"logs": [{"timestamp": "2026-01-01T00:00:00Z", "message": "x"}] * 1001}
    refused = worker_post(client, settings, run_id, "complete", too_many)
    assert refused.status_code == 400 and "logs" in str(refused.json()["details"])


def test_a_retried_attempt_leaves_an_on_retry_event(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    run_id = claimed_run(client, settings, owner, pool, max_retries=1)
    error = {"type": "exception", "message": "first"}
    body = {"worker_id": "w1", "attempt": 1, "status": "failed", "error": error}
    done = worker_post(client, settings, run_id, "complete", body)
    assert done.json()["status"] == "queued"
    [event] = run_events(app, run_id)
    assert (event.type, event.node_id) == ("on_retry", None)
    assert event.payload == {"attempt": 1, "retry_count": 1, "error": error}

    claim_runs(client, worker_headers(settings), pool, worker_id="w2")
    last = {"worker_id": "w2", "attempt": 2, "status": "failed", "error": error}
    assert worker_post(client, settings, run_id, "complete", last).json()["status"] == "failed"
    assert len(run_events(app, run_id)) == 1  # out of retries: no second event


@pytest.mark.slow
def test_a_lost_lease_leaves_an_on_retry_event(running: tuple[FastAPI, TestClient], pool: str) -> None:
    """The reaper re-queues an attempt whose worker stopped heartbeating (lease 3 s in tests)."""
    app, client = running
    settings: Settings = app.state.settings
    owner = new_org(app, client)
    run_id = claimed_run(client, settings, owner, pool)
    running = [{"node_id": "only", "node_type": "python_function", "status": "running"}]
    body = {"worker_id": "w1", "attempt": 1, "node_runs": running}
    assert worker_post(client, settings, run_id, "nodes", body).status_code == 200
    deadline = time.monotonic() + 15
    while not run_events(app, run_id):
        assert time.monotonic() < deadline, "the lease never expired"
        time.sleep(0.2)
    [event] = run_events(app, run_id)
    assert (event.type, event.node_id, event.payload["attempt"], event.payload["retry_count"]) == (
        "on_retry",
        None,
        1,
        1,
    )
    assert event.payload["error"]["type"] == "lease_expired"
    [task] = client.get(f"/v1/runs/{run_id}/tasks", headers=owner.headers).json()["items"]
    assert (task["node_id"], task["status"]) == ("only", "abandoned")
    run = client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()
    assert (run["status"], run["retry_count"]) == ("queued", 1)


@pytest.mark.slow
def test_a_claim_that_never_reached_its_worker_uses_no_retry(
    running: tuple[FastAPI, TestClient], pool: str
) -> None:
    """An attempt that expired without one report (no log line, no node run) never ran the run's
    code: the reaper re-queues it as `claim_not_delivered`, and the run keeps its retries."""
    app, client = running
    settings: Settings = app.state.settings
    owner = new_org(app, client)
    run_id = claimed_run(client, settings, owner, pool)  # max_retries 0, and worker w1 says nothing
    deadline = time.monotonic() + 15
    while (run := client.get(f"/v1/runs/{run_id}", headers=owner.headers).json())["status"] == "running":
        assert time.monotonic() < deadline, "the lease never expired"
        time.sleep(0.2)
    assert (run["status"], run["retry_count"], run["error"]["type"]) == ("queued", 0, "claim_not_delivered")
    assert run_events(app, run_id) == []  # not a retry: no on_retry event
    logs = client.get(f"/v1/runs/{run_id}/logs", headers=owner.headers).json()["events"]
    assert [line["message"] for line in logs] == [
        "[WARNING] Attempt 1 never reached worker w1; the run goes back to the queue for attempt 2 "
        "(no retry used)"
    ]


def test_nodes_an_attempt_leaves_unfinished_end_abandoned_or_cancelled(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    """A failed attempt (a time limit, a crash) leaves its running nodes `abandoned`; a cancelled
    run's are `cancelled`; finished nodes keep their state."""
    for ending, expected in (("failed", "abandoned"), ("cancelled", "cancelled")):
        run_id = claimed_run(client, settings, owner, pool)
        nodes = [
            {"node_id": "done", "node_type": "python_function", "status": "completed", "output": 1},
            {"node_id": "busy", "node_type": "python_function", "status": "running"},
            {"node_id": "again", "node_type": "python_function", "status": "retrying", "tries": 1},
        ]
        body = {"worker_id": "w1", "attempt": 1, "node_runs": nodes}
        assert worker_post(client, settings, run_id, "nodes", body).status_code == 200
        if ending == "cancelled":
            assert client.post(f"/v1/runs/{run_id}/cancel", headers=owner.headers).status_code == 200
        result = {
            "worker_id": "w1",
            "attempt": 1,
            "status": ending,
            "error": {"type": "timeout", "message": "t"},
        }
        assert worker_post(client, settings, run_id, "complete", result).status_code == 200
        items = client.get(f"/v1/runs/{run_id}/tasks", headers=owner.headers).json()["items"]
        states = {item["node_id"]: (item["status"], item["completed_at"] is not None) for item in items}
        assert states == {"done": ("completed", False), "busy": (expected, True), "again": (expected, True)}


def test_each_attempts_worker_shows_on_the_run_and_its_tasks(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    run_id = claimed_run(client, settings, owner, pool, max_retries=1)
    assert report(client, settings, run_id, [node("only", "running")]).status_code == 200
    run = client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()
    assert (run["worker_id"], run["attempt"]) == ("w1", 1)
    error = {"type": "exception", "message": "boom"}
    failed = {"worker_id": "w1", "attempt": 1, "status": "failed", "error": error}
    assert worker_post(client, settings, run_id, "complete", failed).json()["status"] == "queued"
    assert client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()["worker_id"] is None
    claim_runs(client, worker_headers(settings), pool, worker_id="w2")
    body = {"worker_id": "w2", "attempt": 2, "node_runs": [node("only", "running")]}
    assert worker_post(client, settings, run_id, "nodes", body).status_code == 200
    tasks = client.get(f"/v1/runs/{run_id}/tasks", headers=owner.headers).json()["items"]
    attempts = [(t["attempt"], t["status"], t["worker_id"]) for t in tasks]
    assert attempts == [(1, "abandoned", "w1"), (2, "running", "w2")]
