"""The Runs API and the worker protocol behind it, through HTTP: every documented status code,
idempotency, pagination of runs and logs, cancellation, retries and stale attempts."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.domains.workers import long_poll
from dagy.server.settings import BUILT_IN_EXECUTORS, RunQueueSettings, Settings
from tests.factories import Caller, add_member, new_org, unique
from tests.flow_factories import (
    api_key,
    claim_runs,
    python_node,
    register_flow,
    spec,
    trigger,
    wait_for_run,
    worker_headers,
    worker_post,
)

OK = "def main(inputs, params):\n    return params\n"
BOOM = "def main(inputs, params):\n    x = 1\n    raise ValueError('bad input')\n"

pytestmark = pytest.mark.settings("own_pool_settings")


def test_trigger_queues_a_run(client: TestClient, owner: Caller, flow: str) -> None:
    response = client.post(
        "/v1/runs", headers=owner.headers, json={"flow_name": flow, "parameters": {"k": [1, 2]}}
    )
    assert response.status_code == 202
    body = response.json()
    assert body["run_id"].startswith("run_") and body["status"] == "queued"
    assert re.fullmatch(rf"{flow}-\d{{4}}-\d\d-\d\d-\d{{6}}", body["run_slug"])
    assert (body["flow_name"], body["flow_version"], body["parameters"]) == (flow, "1", {"k": [1, 2]})
    second = trigger(client, owner, flow)
    assert second["run_slug"] != body["run_slug"] or second["run_id"] == body["run_id"]
    run = client.get(f"/v1/runs/{body['run_id']}", headers=owner.headers).json()
    # Whether a worker of the installation asked for `local` runs in the last minute depends on the
    # other tests: test_workers_claim.py checks `status_detail`.
    assert run["status_detail"] is None or run["status_detail"].startswith("No worker has asked")
    assert run | {"created_at": None, "run_id": None, "run_slug": None, "status_detail": None} == {
        "run_id": None,
        "run_slug": None,
        "flow_name": flow,
        "flow_version": "1",
        "status": "queued",
        "created_at": None,
        "started_at": None,
        "completed_at": None,
        "duration_seconds": None,
        "trigger": "manual",
        "schedule_id": None,
        "scheduled_for": None,
        "sensor_id": None,
        "sensor_event_id": None,
        "status_detail": None,
        "worker_id": None,
        "attempt": 0,
        "deployment_name": None,
        "executor": "local",
        "execution_mode": "nano",
        "parameters": {"k": [1, 2]},
        "output": None,
        "error": None,
        "retry_count": 0,
        "tags": [],
        "waiting_for": None,
    }


def test_trigger_refuses_bad_bodies(client: TestClient, owner: Caller, flow: str) -> None:
    for body, field in [
        ({"flow_name": flow, "parameters": [1, 2]}, "parameters"),
        ({"flow_name": flow, "parameters": "x"}, "parameters"),
        ({"flow_name": flow, "surprise": 1}, "surprise"),
        ({"flow_name": flow, "execution_mode": "huge"}, "execution_mode"),
        ({}, "flow_name"),
    ]:
        response = client.post("/v1/runs", headers=owner.headers, json=body)
        assert response.status_code == 400, body
        assert response.json()["error"] == "invalid_input" and field in response.json()["details"], (
            response.json()
        )


def test_an_explicit_executor_is_one_this_installation_has(
    client: TestClient, owner: Caller, flow: str, pool: str
) -> None:
    response = client.post(
        "/v1/runs", headers=owner.headers, json={"flow_name": flow, "executor": "teleport"}
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_input"
    available = ", ".join(sorted([*BUILT_IN_EXECUTORS, pool]))
    assert response.json()["details"] == {"executor": f"one of {available}, or empty for automatic"}
    run_id = trigger(client, owner, flow, executor=pool)["run_id"]
    assert client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()["executor"] == pool


def test_trigger_permissions_and_missing_flows(
    app: FastAPI, client: TestClient, owner: Caller, flow: str
) -> None:
    viewer = add_member(app, client, owner, "viewer")
    assert client.post("/v1/runs", json={"flow_name": flow}).status_code == 401
    denied = client.post("/v1/runs", headers=viewer.headers, json={"flow_name": flow})
    assert denied.status_code == 403 and denied.json()["details"] == {"required_permission": "runs.trigger"}
    assert client.post("/v1/runs", headers=owner.headers, json={"flow_name": "nope"}).status_code == 404
    missing_version = client.post(
        "/v1/runs", headers=owner.headers, json={"flow_name": flow, "flow_version": 9}
    )
    assert missing_version.status_code == 404 and missing_version.json()["error"] == "not_found"
    run = trigger(client, owner, flow, flow_version=1)
    assert client.get(f"/v1/runs/{run['run_id']}", headers=viewer.headers).status_code == 200
    assert client.post(f"/v1/runs/{run['run_id']}/cancel", headers=viewer.headers).status_code == 403


def test_another_orgs_run_does_not_exist(app: FastAPI, client: TestClient, owner: Caller, flow: str) -> None:
    run_id = trigger(client, owner, flow)["run_id"]
    stranger = new_org(app, client)
    for method, path in [("GET", ""), ("POST", "/cancel"), ("GET", "/logs"), ("GET", "/tasks")]:
        response = client.request(method, f"/v1/runs/{run_id}{path}", headers=stranger.headers)
        assert response.status_code == 404 and response.json()["error"] == "not_found", path
    assert client.post("/v1/runs", headers=stranger.headers, json={"flow_name": flow}).status_code == 404
    assert client.get("/v1/runs/run_unknown", headers=owner.headers).status_code == 404
    assert run_id not in [
        r["run_id"] for r in client.get("/v1/runs", headers=stranger.headers).json()["items"]
    ]


def test_idempotency_key_answers_the_first_run(client: TestClient, owner: Caller, flow: str) -> None:
    headers = owner.headers | {"X-Idempotency-Key": unique("key")}
    first = client.post("/v1/runs", headers=headers, json={"flow_name": flow, "parameters": {"n": 1}})
    again = client.post("/v1/runs", headers=headers, json={"flow_name": flow, "parameters": {"n": 1}})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    other = client.post(
        "/v1/runs", headers=owner.headers | {"X-Idempotency-Key": unique("key")}, json={"flow_name": flow}
    )
    assert other.json()["run_id"] != first.json()["run_id"]


def test_list_runs_pages_and_filters(client: TestClient, owner: Caller, flow: str) -> None:
    other_flow = register_flow(client, owner, spec(python_node("only", OK)))
    ids = [trigger(client, owner, flow)["run_id"] for _ in range(5)]
    trigger(client, owner, other_flow)
    client.post(f"/v1/runs/{ids[0]}/cancel", headers=owner.headers)
    seen: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {"flow_name": flow, "limit": 2} | ({"next_token": token} if token else {})
        page = client.get("/v1/runs", headers=owner.headers, params=params).json()
        assert len(page["items"]) <= 2
        seen += [r["run_id"] for r in page["items"]]
        token = page["next_token"]
        if token is None:
            break
    assert seen == list(reversed(ids))  # newest first, each exactly once
    cancelled = client.get("/v1/runs", headers=owner.headers, params={"status": "cancelled"}).json()["items"]
    assert [r["run_id"] for r in cancelled] == [ids[0]]
    assert set(cancelled[0]) == {
        "run_id",
        "run_slug",
        "flow_name",
        "flow_version",
        "status",
        "created_at",
        "started_at",
        "completed_at",
        "duration_seconds",
        "trigger",
        "schedule_id",
        "scheduled_for",
        "sensor_id",
        "sensor_event_id",
        "tags",
        "waiting_for",
    }
    assert client.get("/v1/runs", headers=owner.headers, params={"status": "dancing"}).status_code == 400
    dancing = client.get("/v1/runs", headers=owner.headers, params={"trigger": "dancing"})
    assert (dancing.status_code, dancing.json()["details"]) == (
        400,
        {"trigger": "one of manual, api_key, schedule, sensor, webhook"},
    )
    assert client.get("/v1/runs", headers=owner.headers, params={"limit": 101}).status_code == 400
    assert client.get("/v1/runs", headers=owner.headers, params={"next_token": "garbage!"}).status_code == 400


def test_a_run_slug_is_accepted_wherever_a_run_id_is(
    app: FastAPI, client: TestClient, owner: Caller, flow: str
) -> None:
    triggered = trigger(client, owner, flow)
    run_id, slug = triggered["run_id"], triggered["run_slug"]
    assert client.get(f"/v1/runs/{slug}", headers=owner.headers).json()["run_id"] == run_id
    assert client.get(f"/v1/runs/{slug}/logs", headers=owner.headers).status_code == 200
    assert client.get(f"/v1/runs/{slug}/tasks", headers=owner.headers).json()["run_id"] == run_id
    cancelled = client.post(f"/v1/runs/{slug}/cancel", headers=owner.headers)
    assert (cancelled.status_code, cancelled.json()["run_id"]) == (200, run_id)
    stranger = new_org(app, client)
    assert client.get(f"/v1/runs/{slug}", headers=stranger.headers).status_code == 404


def test_cancel_queued_then_terminal_is_refused(client: TestClient, owner: Caller, flow: str) -> None:
    run_id = trigger(client, owner, flow)["run_id"]
    response = client.post(f"/v1/runs/{run_id}/cancel", headers=owner.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled" and response.json()["cancelled_at"].endswith("Z")
    again = client.post(f"/v1/runs/{run_id}/cancel", headers=owner.headers)
    assert again.status_code == 400 and again.json()["error"] == "invalid_input"
    assert client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()["status"] == "cancelled"


def test_worker_protocol_runs_an_attempt(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    """Claim, heartbeat, logs (paged while the run writes), node runs, completion, then cancel is 400."""
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    run_id = trigger(client, owner, flow, parameters={"p": 1})["run_id"]
    [claimed] = claim_runs(client, worker_headers(settings), pool)
    assert (claimed["run_id"], claimed["attempt"], claimed["org_id"]) == (run_id, 1, owner.org_id)
    assert claimed["parameters"] == {"p": 1} and claimed["flow_spec"]["nodes"][0]["id"] == "only"
    assert claim_runs(client, worker_headers(settings), pool) == []  # never handed out twice
    assert client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()["status"] == "running"

    beat = worker_post(client, settings, run_id, "heartbeat", {"worker_id": "w1", "attempt": 1})
    assert beat.status_code == 200 and beat.json()["cancel_requested"] is False
    lines = [{"timestamp": "2026-01-01T00:00:00Z", "message": f"line {i}"} for i in range(5)]
    assert (
        worker_post(
            client, settings, run_id, "logs", {"worker_id": "w1", "attempt": 1, "lines": lines}
        ).json()["accepted"]
        == 5
    )
    first = client.get(f"/v1/runs/{run_id}/logs", headers=owner.headers, params={"limit": 3}).json()
    assert [e["message"] for e in first["events"]] == ["line 0", "line 1", "line 2"]
    second = client.get(
        f"/v1/runs/{run_id}/logs", headers=owner.headers, params={"next_token": first["next_token"]}
    ).json()
    assert [e["message"] for e in second["events"]] == ["line 3", "line 4"]
    assert second["next_token"]  # still running: the tail continues from here
    more = [{"timestamp": "2026-01-01T00:00:01Z", "message": "line 5"}]
    worker_post(client, settings, run_id, "logs", {"worker_id": "w1", "attempt": 1, "lines": more})
    third = client.get(
        f"/v1/runs/{run_id}/logs", headers=owner.headers, params={"next_token": second["next_token"]}
    ).json()
    assert [e["message"] for e in third["events"]] == ["line 5"]

    node = {
        "node_id": "only",
        "node_type": "python_function",
        "status": "completed",
        "started_at": "2026-01-01T00:00:00Z",
        "completed_at": "2026-01-01T00:00:02Z",
        "output": {"p": 1},
    }
    assert (
        worker_post(
            client, settings, run_id, "nodes", {"worker_id": "w1", "attempt": 1, "node_runs": [node]}
        ).status_code
        == 200
    )
    done = worker_post(
        client,
        settings,
        run_id,
        "complete",
        {"worker_id": "w1", "attempt": 1, "status": "completed", "output": {"p": 1}},
    )
    assert done.status_code == 200 and done.json()["status"] == "completed"

    run = client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()
    assert (run["status"], run["output"]) == ("completed", {"p": 1})
    tasks = client.get(f"/v1/runs/{run_id}/tasks", headers=owner.headers).json()["items"]
    assert tasks[0]["duration_seconds"] == 2.0
    tail = client.get(
        f"/v1/runs/{run_id}/logs", headers=owner.headers, params={"next_token": third["next_token"]}
    ).json()
    assert tail == {"events": [], "next_token": None}
    refused = client.post(f"/v1/runs/{run_id}/cancel", headers=owner.headers)
    assert refused.status_code == 400 and "completed" in refused.json()["message"]


def test_stale_attempts_and_strangers_get_409(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    run_id = trigger(client, owner, flow, max_retries=1)["run_id"]
    claim_runs(client, worker_headers(settings), pool, worker_id="w1")
    failed = worker_post(
        client,
        settings,
        run_id,
        "complete",
        {"worker_id": "w1", "attempt": 1, "status": "failed", "error": {"type": "exception", "message": "x"}},
    )
    assert failed.json()["status"] == "queued"  # a retry is left
    run = client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()
    assert (run["status"], run["retry_count"]) == ("queued", 1)
    [again] = claim_runs(client, worker_headers(settings), pool, worker_id="w2")
    assert again["attempt"] == 2
    for what, body in [
        ("heartbeat", {}),
        ("logs", {"lines": []}),
        ("nodes", {"node_runs": []}),
        ("complete", {"status": "completed"}),
    ]:
        stale = worker_post(client, settings, run_id, what, {"worker_id": "w1", "attempt": 1, **body})
        assert stale.status_code == 409 and stale.json()["error"] == "lease_lost", what
        stranger = worker_post(client, settings, run_id, what, {"worker_id": "w9", "attempt": 2, **body})
        assert stranger.status_code == 409, what
    last = worker_post(
        client,
        settings,
        run_id,
        "complete",
        {"worker_id": "w2", "attempt": 2, "status": "failed", "error": {"type": "exception", "message": "y"}},
    )
    assert last.json()["status"] == "failed"
    run = client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()
    assert (run["status"], run["retry_count"], run["error"]["message"]) == ("failed", 1, "y")


def test_cancelling_a_running_run_reaches_its_worker(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    run_id = trigger(client, owner, flow)["run_id"]
    claim_runs(client, worker_headers(settings), pool)
    assert client.post(f"/v1/runs/{run_id}/cancel", headers=owner.headers).json()["status"] == "cancelled"
    beat = worker_post(client, settings, run_id, "heartbeat", {"worker_id": "w1", "attempt": 1})
    assert beat.json()["cancel_requested"] is True
    late = worker_post(
        client, settings, run_id, "complete", {"worker_id": "w1", "attempt": 1, "status": "completed"}
    )
    assert late.json()["status"] == "cancelled"  # the user's cancel stands
    assert client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()["output"] is None


def test_worker_protocol_needs_the_worker_token(client: TestClient, owner: Caller) -> None:
    body = {"worker_id": "w1", "executor": "local"}
    assert client.post("/v1/workers/claim", json=body).status_code == 401
    assert client.post("/v1/workers/claim", headers=owner.headers, json=body).status_code == 403
    assert (
        client.post(
            "/v1/workers/runs/run_x/heartbeat", headers=owner.headers, json={"worker_id": "w1", "attempt": 1}
        ).status_code
        == 403
    )


@pytest.mark.settings(queue=RunQueueSettings(claim_wait_seconds=10))
def test_a_waiting_claim_wakes_when_a_run_is_queued(
    client: TestClient, settings: Settings, owner: Caller, pool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim also re-checks the queue once a second; with that turned off, a claim answered with
    the run before its wait is over was woken by the queue signal, however long the trigger took."""
    monkeypatch.setattr(long_poll, "RECHECK_SECONDS", 100.0)
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    started = time.monotonic()
    nothing_queued = claim_runs(client, worker_headers(settings), pool, wait=0.3)
    assert nothing_queued == []  # nothing queued: answers after its wait, not the installation's 10 s
    assert 0.25 <= time.monotonic() - started < 5
    result: dict[str, Any] = {}

    def wait_for_work() -> None:
        result["runs"] = claim_runs(client, worker_headers(settings), pool, wait=10)
        result["at"] = time.monotonic()

    waiter = threading.Thread(target=wait_for_work)
    claimed_at = time.monotonic()
    waiter.start()
    time.sleep(0.4)
    run_id = trigger(client, owner, flow)["run_id"]
    waiter.join(40)
    assert [r["run_id"] for r in result["runs"]] == [run_id]
    held = result["at"] - claimed_at
    assert held < 10, f"the claim was answered at the end of its wait ({held:.2f} s), not woken"


def test_a_failing_node_fails_the_run_with_its_traceback(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner = new_org(app, client)
    after = "def main(inputs, params):\n    return 1\n"
    flow = register_flow(
        client,
        owner,
        spec(
            python_node("boom", BOOM),
            python_node("after", after),
            python_node("apart", OK),
            edges=(("boom", "after"),),
        ),
    )
    run = wait_for_run(client, owner, trigger(client, owner, flow, max_retries=1)["run_id"])
    assert run["status"] == "failed" and run["retry_count"] == 1
    error = run["error"]
    assert (error["type"], error["message"], error["node_id"]) == (
        "exception",
        "ValueError: bad input",
        "boom",
    )
    assert 'File "<node:boom>", line 3, in main' in error["traceback"]
    assert "raise ValueError('bad input')" in error["traceback"]
    tasks = client.get(f"/v1/runs/{run['run_id']}/tasks", headers=owner.headers).json()["items"]
    assert sorted((t["attempt"], t["node_id"], t["status"]) for t in tasks) == [
        (1, "after", "skipped"),
        (1, "apart", "completed"),
        (1, "boom", "failed"),
        (2, "after", "skipped"),
        (2, "apart", "completed"),
        (2, "boom", "failed"),
    ]


def test_the_list_filters_on_a_time_range(client: TestClient, owner: Caller, flow: str) -> None:
    first = trigger(client, owner, flow)["run_id"]
    time.sleep(0.05)
    second = trigger(client, owner, flow)["run_id"]
    listing = client.get("/v1/runs", headers=owner.headers).json()["items"]
    runs = {r["run_id"]: r["created_at"] for r in listing}

    def listed(**params: str) -> list[str]:
        answer = client.get("/v1/runs", headers=owner.headers, params={"flow_name": flow, **params})
        assert answer.status_code == 200, answer.json()
        return [r["run_id"] for r in answer.json()["items"]]

    assert listed(created_after=runs[second]) == [second]  # inclusive
    assert listed(created_before=runs[second]) == [first]  # exclusive
    assert listed(created_after=runs[first], created_before=runs[second]) == [first]
    assert listed(created_after="2000-01-01T00:00:00+02:00") == [second, first]
    assert listed(created_before="2000-01-01T00:00:00Z") == []
    naive = client.get("/v1/runs", headers=owner.headers, params={"created_after": "2026-01-01T00:00:00"})
    assert naive.status_code == 400 and "created_after" in naive.json()["details"]
    backwards = {"created_after": runs[second], "created_before": runs[first]}
    empty = client.get("/v1/runs", headers=owner.headers, params=backwards)
    assert empty.status_code == 400 and "created_before" in empty.json()["details"]


def test_a_run_says_who_started_it_and_the_list_filters_on_it(
    client: TestClient, owner: Caller, flow: str
) -> None:
    by_member = trigger(client, owner, flow)["run_id"]
    key = api_key(client, owner, "runs.trigger", "runs.read")
    by_key = client.post("/v1/runs", headers=key, json={"flow_name": flow}).json()["run_id"]
    assert client.get(f"/v1/runs/{by_key}", headers=owner.headers).json()["trigger"] == "api_key"
    for trigger_name, run_id in (("manual", by_member), ("api_key", by_key)):
        query = {"trigger": trigger_name, "flow_name": flow}
        items = client.get("/v1/runs", headers=owner.headers, params=query).json()["items"]
        assert [item["run_id"] for item in items] == [run_id]
        assert items[0]["trigger"] == trigger_name
