"""Approval nodes end to end: a run pauses at its approval node (the embedded worker runs it), shows
what it waits for and frees its worker; `POST /runs/{id}/approve` resumes it after the nodes it
completed, `/reject` fails it naming who and why; approvers, permissions, another org's runs, runs
that wait for nothing; the timeout's decision (also from two services passes at once), a cancel
while waiting, the reaper leaving a waiting run alone, and the `on_waiting` alert."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dagy.server.db.base import utcnow
from dagy.server.db.models import AuditLog, Run, RunApproval
from dagy.server.domains.runs.schemas import RunPage
from dagy.server.errors import InvalidInput
from dagy.server.orchestration import RunState, set_run_state
from dagy.server.rbac import Role
from dagy.server.services.approvals import expire_once
from dagy.server.services.reaper import reap_once
from dagy.server.settings import AlertSettings, Settings
from tests.factories import Caller, add_member, new_org, unique
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
from tests.server.alert_peers import receiving

NODE_A = "def main(inputs, params):\n    print('node a ran')\n    return {'rows': params['rows']}\n"
NODE_B = "def main(inputs, params):\n    print('node b ran')\n    return {'decision': inputs['gate']}\n"
SIDE = "def main(inputs, params):\n    return 'side'\n"
OK = "def main(inputs, params):\n    return params\n"


def approval_flow(
    client: TestClient, caller: Caller, *, side: bool = False, executor: str | None = None, **gate: Any
) -> str:
    """`a -> gate -> b` (and, with `side`, a node `side` that depends on nothing); `gate` is the
    approval node's data beyond its message."""
    data = {"message": "Load {input[rows]} rows into {params[target]}?", **gate}
    nodes = [python_node("a", NODE_A), {"id": "gate", "type": "approval", "data": data}]
    nodes.append(python_node("b", NODE_B))
    if side:
        nodes.append(python_node("side", SIDE))
    extra = {"default_executor": executor} if executor else {}
    return register_flow(client, caller, spec(*nodes, edges=(("a", "gate"), ("gate", "b"))), **extra)


def get_run(client: TestClient, caller: Caller, run_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/runs/{run_id}", headers=caller.headers)
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


def wait_until_waiting(
    client: TestClient, caller: Caller, run_id: str, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = get_run(client, caller, run_id)
        if run["waiting_for"] is not None:
            return run
        assert run["status"] in ("queued", "running") and time.monotonic() < deadline, run
        time.sleep(0.05)


def tasks(client: TestClient, caller: Caller, run_id: str) -> list[tuple[str, int, str]]:
    items = client.get(f"/v1/runs/{run_id}/tasks", headers=caller.headers).json()["items"]
    return sorted((t["node_id"], t["attempt"], t["status"]) for t in items)


def task(client: TestClient, caller: Caller, run_id: str, node_id: str, attempt: int) -> dict[str, Any]:
    items = client.get(f"/v1/runs/{run_id}/tasks", headers=caller.headers).json()["items"]
    found: dict[str, Any] = next(t for t in items if (t["node_id"], t["attempt"]) == (node_id, attempt))
    return found


def log_lines(client: TestClient, caller: Caller, run_id: str) -> list[str]:
    events = client.get(f"/v1/runs/{run_id}/logs", headers=caller.headers).json()["events"]
    return [event["message"] for event in events]


def decide(client: TestClient, caller: Caller, run_id: str, verb: str, comment: str | None = None) -> Any:
    body = {} if comment is None else {"comment": comment}
    return client.post(f"/v1/runs/{run_id}/{verb}", headers=caller.headers, json=body)


def paused_by_protocol(
    client: TestClient, settings: Settings, run_id: str, pool: str, **waiting: Any
) -> None:
    """Worker w1 claims the run and reports its attempt paused at `gate`, as a worker does."""
    [claimed] = claim_runs(client, worker_headers(settings), pool, worker_id="w1", capacity=1)
    assert claimed["run_id"] == run_id
    ids = {"worker_id": "w1", "attempt": claimed["attempt"]}
    paused = {"node_id": "gate", "node_type": "approval", "status": "paused"}
    waiting_for = {"node_id": "gate", "message": "Go?", "timeout_seconds": 3600, **waiting}
    body = ids | {"status": "waiting", "node_runs": [paused], "waiting_for": waiting_for}
    response = worker_post(client, settings, run_id, "complete", body)
    assert response.status_code == 200, response.text
    assert response.json() == {"run_id": run_id, "status": "running"}


@pytest.mark.settings(worker_concurrency=1)
def test_a_run_pauses_at_its_approval_frees_its_worker_and_resumes_once_approved(
    running: tuple[FastAPI, TestClient],
) -> None:
    app, client = running
    owner = new_org(app, client)
    flow = approval_flow(client, owner, side=True)
    run_id = trigger(client, owner, flow, parameters={"rows": 21, "target": "warehouse"})["run_id"]

    run = wait_until_waiting(client, owner, run_id)

    assert (run["status"], run["attempt"], run["worker_id"]) == ("running", 1, None)
    waiting = run["waiting_for"]
    assert waiting["type"] == "approval" and waiting["node_id"] == "gate"
    assert waiting["message"] == "Load 21 rows into warehouse?"
    assert (waiting["approvers"], waiting["on_timeout"]) == ([], "reject")
    assert waiting["since"] < waiting["timeout_at"]
    assert tasks(client, owner, run_id) == [
        ("a", 1, "completed"),
        ("gate", 1, "paused"),
        ("side", 1, "completed"),
    ]
    page = client.get("/v1/runs", headers=owner.headers, params={"status": "running"}).json()
    assert [item["waiting_for"] for item in page["items"]] == [waiting]
    assert RunPage.model_validate(page).model_dump(mode="json") == page  # the list path renders the model
    # The only slot of the worker is free: another run executes while this one waits.
    other = trigger(client, owner, register_flow(client, owner, spec(python_node("only", OK))))["run_id"]
    assert wait_for_run(client, owner, other)["status"] == "completed"
    assert get_run(client, owner, run_id)["waiting_for"] == waiting

    approved = decide(client, owner, run_id, "approve", "numbers look right")

    assert approved.status_code == 202, approved.text
    body = approved.json()
    assert (body["run_id"], body["status"], body["node_id"], body["approved"]) == (
        run_id,
        "queued",
        "gate",
        True,
    )
    assert (body["decided_by"], body["comment"]) == (owner.email, "numbers look right")
    done = wait_for_run(client, owner, run_id)
    assert (done["status"], done["attempt"], done["retry_count"], done["waiting_for"]) == (
        "completed",
        2,
        0,
        None,
    )
    decision = {k: body[k] for k in ("approved", "decided_by", "comment", "decided_at")}
    assert done["output"] == {"b": {"decision": decision}, "side": "side"}
    lines = log_lines(client, owner, run_id)
    assert lines.count("node a ran") == 1 and lines.count("node b ran") == 1  # a was not run again
    assert tasks(client, owner, run_id) == [
        ("a", 1, "completed"),
        ("a", 2, "completed"),
        ("b", 2, "completed"),
        ("gate", 1, "completed"),
        ("gate", 2, "completed"),
        ("side", 1, "completed"),
        ("side", 2, "completed"),
    ]
    assert task(client, owner, run_id, "gate", 2)["output"] == decision
    assert task(client, owner, run_id, "gate", 1)["duration_seconds"] is None  # a wait is not compute
    assert task(client, owner, run_id, "a", 2)["started_at"] is None  # resumed from attempt 1
    audit = client.get(f"/v1/audit-logs/resource/run/{run_id}", headers=owner.headers).json()["items"]
    [row] = [r for r in audit if "approval" in r["changes"]]
    assert (row["actor_email"], row["changes"]["status"]) == (owner.email, ["running", "queued"])
    assert row["changes"]["approval"]["decision"] == "approved"
    again = decide(client, owner, run_id, "approve")
    assert again.status_code == 409 and again.json()["details"] == {"status": "completed"}


def test_a_rejected_run_fails_naming_who_and_why_and_a_retry_asks_again(
    running: tuple[FastAPI, TestClient],
) -> None:
    app, client = running
    owner = new_org(app, client)
    flow = approval_flow(client, owner)
    made = trigger(client, owner, flow, parameters={"rows": 3, "target": "lake"}, max_retries=2)
    run_id = made["run_id"]
    wait_until_waiting(client, owner, run_id)

    rejected = decide(client, owner, run_id, "reject", "wrong target")

    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["approved"]) == ("failed", False)
    run = get_run(client, owner, run_id)
    assert (run["status"], run["retry_count"], run["waiting_for"]) == ("failed", 0, None)  # never retried
    error = run["error"]
    assert error["type"] == "approval_rejected" and error["node_id"] == "gate"
    assert owner.email in error["message"] and "wrong target" in error["message"]
    assert tasks(client, owner, run_id) == [("a", 1, "completed"), ("gate", 1, "failed")]
    assert task(client, owner, run_id, "gate", 1)["error"]["comment"] == "wrong target"
    assert any(
        line.startswith("[ERROR] Approval node gate was rejected by")
        for line in log_lines(client, owner, run_id)
    )

    assert client.post(f"/v1/runs/{run_id}/retry", headers=owner.headers).status_code == 202
    again = wait_until_waiting(client, owner, run_id)
    assert (again["attempt"], again["waiting_for"]["node_id"]) == (2, "gate")
    assert log_lines(client, owner, run_id).count("node a ran") == 1


@pytest.mark.settings("own_pool_settings")
def test_who_may_decide_and_what_can_be_decided(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    developer = add_member(app, client, owner, Role.DEVELOPER)
    approver = add_member(app, client, owner, Role.DEVELOPER)
    viewer = add_member(app, client, owner, Role.VIEWER)
    flow = approval_flow(client, owner, approvers=[approver.email.upper()], executor=pool)
    run_id = trigger(client, owner, flow, parameters={"rows": 1, "target": "t"})["run_id"]
    not_yet = decide(client, owner, run_id, "approve")
    assert not_yet.status_code == 409 and not_yet.json() == {
        "error": "conflict",
        "message": "The run is not waiting for an approval.",
        "details": {"status": "queued"},
    }
    paused_by_protocol(client, settings, run_id, pool, approvers=[approver.email.upper()])
    assert get_run(client, owner, run_id)["waiting_for"]["approvers"] == [approver.email.lower()]

    for caller in (owner, developer):
        refused = decide(client, caller, run_id, "approve")
        assert refused.status_code == 403, refused.text
        assert refused.json()["details"] == {"approvers": approver.email.lower()}
    assert decide(client, viewer, run_id, "reject").status_code == 403  # may not trigger runs
    stranger = new_org(app, client)
    for verb in ("approve", "reject"):
        foreign = decide(client, stranger, run_id, verb)
        assert foreign.status_code == 404 and foreign.json()["error"] == "not_found"
        assert decide(client, owner, unique("run"), verb).status_code == 404
    too_long = decide(client, approver, run_id, "approve", "x" * 2001)
    assert too_long.status_code == 400 and "comment" in too_long.json()["details"]
    unknown = client.post(f"/v1/runs/{run_id}/approve", headers=approver.headers, json={"note": "?"})
    assert unknown.status_code == 400 and "note" in unknown.json()["details"]
    assert get_run(client, owner, run_id)["waiting_for"] is not None  # nothing was decided

    approved = decide(client, approver, run_id, "approve")
    assert approved.status_code == 202 and approved.json()["decided_by"] == approver.email
    assert approved.json()["comment"] is None
    assert decide(client, approver, run_id, "reject").json()["details"] == {"status": "queued"}
    [second] = claim_runs(client, worker_headers(settings), pool, worker_id="w2")
    assert second["attempt"] == 2 and second["approvals"]["gate"]["approved"] is True
    assert second["approvals"]["gate"]["decided_by"] == approver.email


@pytest.mark.settings("own_pool_settings")
def test_a_waiting_run_moves_only_by_its_decision(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    run_id = trigger(client, owner, approval_flow(client, owner, executor=pool), parameters={"rows": 1})[
        "run_id"
    ]
    paused_by_protocol(client, settings, run_id, pool)
    lost = {"type": "lease_expired", "message": "no worker"}
    for proposed, error in ((RunState.COMPLETED, None), (RunState.FAILED, lost)):
        with (
            pytest.raises(InvalidInput, match="waiting for a decision"),
            app.state.db.transaction(write=True) as session,
        ):
            run = session.get(Run, run_id)
            assert run is not None
            set_run_state(session, run, proposed, now=utcnow(), error=error)
    with app.state.db.transaction(write=True) as session:
        run = session.get(Run, run_id)
        assert run is not None and run.max_retries == 0
        rejected = {"type": "approval_rejected", "message": "no"}
        assert set_run_state(session, run, RunState.FAILED, now=utcnow(), error=rejected) == RunState.FAILED
        assert (run.waiting_for, run.retry_count) == (None, 0)


@pytest.mark.settings("own_pool_settings")
def test_a_waiting_completion_says_what_it_waits_for(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = approval_flow(client, owner, executor=pool)
    run_id = trigger(client, owner, flow, parameters={"rows": 1, "target": "t"})["run_id"]
    claim_runs(client, worker_headers(settings), pool, worker_id="w1")
    ids = {"worker_id": "w1", "attempt": 1}
    for body in (
        {"status": "waiting"},
        {"status": "completed", "waiting_for": {"node_id": "gate", "message": "m", "timeout_seconds": 5}},
        {"status": "waiting", "waiting_for": {"node_id": "gate", "message": "m", "timeout_seconds": 0}},
        {
            "status": "waiting",
            "waiting_for": {"node_id": "g", "message": "m", "timeout_seconds": 5, "approvers": ["x"]},
        },
    ):
        refused = worker_post(client, settings, run_id, "complete", ids | body)
        assert refused.status_code == 400, (body, refused.text)
    assert get_run(client, owner, run_id)["waiting_for"] is None


def test_the_timeout_rejects_or_approves_as_the_node_says(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner = new_org(app, client)
    params = {"rows": 5, "target": "t"}
    rejects = trigger(client, owner, approval_flow(client, owner, timeout_seconds=1), parameters=params)
    approves = trigger(
        client,
        owner,
        approval_flow(client, owner, timeout_seconds=1, on_timeout="approve"),
        parameters=params,
    )

    failed = wait_for_run(client, owner, rejects["run_id"])
    completed = wait_for_run(client, owner, approves["run_id"])

    for made in (rejects, approves):  # each waited first
        lines = log_lines(client, owner, made["run_id"])
        assert any(line.startswith("[INFO] Waiting for an approval of node gate") for line in lines)

    assert failed["status"] == "failed" and failed["error"]["type"] == "approval_timed_out"
    assert "rejected by its timeout" in failed["error"]["message"] and failed["error"]["decided_by"] is None
    assert completed["status"] == "completed" and completed["attempt"] == 2
    decision = completed["output"]["decision"]
    assert (decision["approved"], decision["decided_by"]) == (True, None)
    assert decision["comment"] == "No decision within 1 s; the timeout approved it."
    audit = client.get(f"/v1/audit-logs/resource/run/{approves['run_id']}", headers=owner.headers).json()
    [row] = [r for r in audit["items"] if "approval" in r["changes"]]
    assert (row["actor_email"], row["changes"]["approval"]["timed_out"]) == (None, True)


@pytest.mark.settings("own_pool_settings")
def test_two_timeout_passes_at_once_decide_each_run_once(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = approval_flow(client, owner, executor=pool)
    run_ids = [
        trigger(client, owner, flow, parameters={"rows": 1, "target": "t"})["run_id"] for _ in range(3)
    ]
    for run_id in run_ids:
        paused_by_protocol(client, settings, run_id, pool, timeout_seconds=1, on_timeout="approve")
    assert expire_once(app.state.db) == 0  # not due yet
    time.sleep(1.2)
    counts: list[int] = []
    start = threading.Barrier(2)

    def services_pass() -> None:
        start.wait()
        counts.append(expire_once(app.state.db))

    threads = [threading.Thread(target=services_pass) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == 3
    with app.state.db.transaction(write=False) as session:
        decided = session.execute(
            select(RunApproval.run_id, RunApproval.decision).where(RunApproval.run_id.in_(run_ids))
        ).all()
        audits = session.execute(
            select(func.count()).select_from(AuditLog).where(AuditLog.resource_id.in_(run_ids))
        ).scalar_one()
    assert sorted(decided) == sorted((run_id, "approved") for run_id in run_ids)
    assert audits == 3 + 3  # each trigger's row, and one decision each
    for run_id in run_ids:
        assert get_run(client, owner, run_id)["status"] == "queued"


@pytest.mark.settings("own_pool_settings")
def test_a_waiting_run_can_be_cancelled(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = approval_flow(client, owner, executor=pool)
    run_id = trigger(client, owner, flow, parameters={"rows": 1, "target": "t"})["run_id"]
    paused_by_protocol(client, settings, run_id, pool, timeout_seconds=1)

    cancelled = client.post(f"/v1/runs/{run_id}/cancel", headers=owner.headers)

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    run = get_run(client, owner, run_id)
    assert (run["status"], run["waiting_for"]) == ("cancelled", None)
    assert tasks(client, owner, run_id) == [("gate", 1, "cancelled")]
    assert decide(client, owner, run_id, "approve").json()["details"] == {"status": "cancelled"}
    time.sleep(1.1)
    assert expire_once(app.state.db) == 0  # its timeout has nothing left to decide
    with app.state.db.transaction(write=False) as session:
        assert session.execute(select(RunApproval).where(RunApproval.run_id == run_id)).first() is None


@pytest.mark.settings("own_pool_settings")
def test_the_reaper_leaves_a_waiting_run_alone(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = approval_flow(client, owner, executor=pool)
    waiting = trigger(client, owner, flow, parameters={"rows": 1, "target": "t"})["run_id"]
    paused_by_protocol(client, settings, waiting, pool)
    lost = trigger(client, owner, flow, parameters={"rows": 1, "target": "t"})["run_id"]
    claim_runs(client, worker_headers(settings), pool, worker_id="w1")  # never heard from again
    time.sleep(settings.queue.lease_seconds + 0.3)

    reap_once(app.state.db)

    assert get_run(client, owner, lost)["status"] == "queued"  # its lease expired
    run = get_run(client, owner, waiting)
    assert (run["status"], run["attempt"], run["waiting_for"]["node_id"]) == ("running", 1, "gate")
    late = worker_post(client, settings, waiting, "heartbeat", {"worker_id": "w1", "attempt": 1})
    assert late.status_code == 409  # the attempt that paused holds no lease


@pytest.mark.settings(
    "own_pool_settings", allow_private_network=True, alerts=AlertSettings(dispatch_seconds=0.1)
)
def test_a_run_that_starts_waiting_is_an_alert_event(
    running: tuple[FastAPI, TestClient], settings: Settings, pool: str
) -> None:
    app, client = running
    owner = new_org(app, client)
    flow = approval_flow(client, owner, executor=pool)
    with receiving() as receiver:
        body = {
            "name": unique("ch"),
            "channel_type": "webhook",
            "config_json": {"url": f"{receiver.url}/hook"},
        }
        channel = client.post("/v1/channels", headers=owner.headers, json=body).json()["channel_id"]
        rule = {"name": unique("rule"), "trigger": "on_waiting", "channel_ids": [channel], "flow_name": flow}
        made = client.post("/v1/alert-rules", headers=owner.headers, json=rule)
        assert made.status_code == 201, made.text
        run_id = trigger(client, owner, flow, parameters={"rows": 1, "target": "t"})["run_id"]
        paused_by_protocol(client, settings, run_id, pool, message="Ship the numbers?")
        deadline = time.monotonic() + 15
        while not receiver.requests:
            assert time.monotonic() < deadline, "the on_waiting alert was not delivered"
            time.sleep(0.05)
        [sent] = receiver.json_bodies()
    assert (sent["event"], sent["run_id"], sent["status"]) == ("on_waiting", run_id, "running")
    assert sent["message"].endswith("is waiting for an approval")
    assert sent["waiting_for"]["message"] == "Ship the numbers?"
    assert sent["waiting_for"]["node_id"] == "gate"
