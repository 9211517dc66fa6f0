"""`POST /v1/runs` beyond the basics: `execute: false`, runs of a deployment, the idempotency
window, and concurrent triggers sharing one transaction (group commit), through HTTP."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from dagy.server.app import create_app
from dagy.server.db.batching import GroupCommit
from dagy.server.db.models import AuditLog, Run
from dagy.server.domains.runs.schemas import RunTriggered
from dagy.server.errors import InvalidInput
from dagy.server.settings import Settings
from tests.factories import Caller, new_org, unique
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

OK = "def main(inputs, params):\n    return params\n"

pytestmark = pytest.mark.settings("own_pool_settings")


def run_status(client: TestClient, caller: Caller, run_id: str) -> str:
    return str(client.get(f"/v1/runs/{run_id}", headers=caller.headers).json()["status"])


def in_parallel(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Every call at once (a barrier releases them together), answers in call order."""
    barrier = threading.Barrier(len(calls))

    def call(fn: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait()
        return fn()

    with ThreadPoolExecutor(max_workers=len(calls)) as threads:
        return list(threads.map(call, calls))


# execute: false


def test_execute_false_records_a_pending_run_that_only_cancel_moves(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    response = client.post(
        "/v1/runs", headers=owner.headers, json={"flow_name": flow, "execute": False, "parameters": {"a": 1}}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["status"], body["parameters"], body["flow_version"]) == ("pending", {"a": 1}, "1")
    run_id = body["run_id"]
    run = client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()
    assert (run["status"], run["executor"], run["started_at"]) == ("pending", pool, None)
    assert claim_runs(client, worker_headers(settings), pool, capacity=50) == []  # never handed to a worker
    pending = client.get("/v1/runs", headers=owner.headers, params={"status": "pending"}).json()["items"]
    assert [r["run_id"] for r in pending] == [run_id]
    assert client.get("/v1/runs", headers=owner.headers, params={"status": "queued"}).json()["items"] == []
    logs = client.get(f"/v1/runs/{run_id}/logs", headers=owner.headers).json()
    assert logs == {"events": [], "next_token": None}  # nothing will ever write to it

    cancelled = client.post(f"/v1/runs/{run_id}/cancel", headers=owner.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/v1/runs/{run_id}/cancel", headers=owner.headers)
    assert again.status_code == 400 and again.json()["error"] == "invalid_input"


def test_execute_false_validates_like_a_dispatched_run(client: TestClient, owner: Caller, pool: str) -> None:
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    for body, status, field in [
        ({"flow_name": "nope"}, 404, None),
        ({"flow_name": flow, "flow_version": 7}, 404, None),
        ({"flow_name": flow, "executor": "teleport"}, 400, "executor"),
        ({"flow_name": flow, "parameters": [1]}, 400, "parameters"),
        ({"flow_name": flow, "parameters": {"big": "x" * 300_000}}, 400, "parameters"),
        ({"deployment": unique()}, 404, None),
    ]:
        response = client.post("/v1/runs", headers=owner.headers, json={**body, "execute": False})
        assert response.status_code == status, (body, response.text)
        if field:
            assert field in response.json()["details"], response.json()
    assert client.get("/v1/runs", headers=owner.headers).json()["items"] == []


def test_a_pending_run_stays_pending_beside_a_running_worker(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner = new_org(app, client)
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor="local")
    pending = trigger(client, owner, flow, execute=False)["run_id"]
    executed = trigger(client, owner, flow)["run_id"]
    assert wait_for_run(client, owner, executed)["status"] == "completed"  # the worker is at work
    assert run_status(client, owner, pending) == "pending"
    assert client.post(f"/v1/runs/{pending}/cancel", headers=owner.headers).json()["status"] == "cancelled"


# Runs of a deployment


def test_a_deployment_run_takes_the_deployments_version_and_settings(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    register_flow(client, owner, spec(python_node("only", OK)), flow_name=flow)  # version 2, latest
    name = unique("dep")
    deployed = client.post(
        "/v1/deployments",
        headers=owner.headers,
        json={
            "name": name,
            "flow_name": flow,
            "flow_version": 1,
            "default_executor": pool,
            "execution_mode": "small",
            "max_retries": 1,
        },
    )
    assert deployed.status_code in (200, 201), deployed.text
    run = trigger_json(client, owner, {"deployment": name, "parameters": {"p": 2}})
    assert (run["flow_name"], run["flow_version"], run["deployment_name"]) == (flow, "1", name)
    assert (run["executor"], run["execution_mode"], run["parameters"]) == (pool, "small", {"p": 2})
    [claimed] = claim_runs(client, worker_headers(settings), pool, capacity=50)
    failed = worker_post(
        client,
        settings,
        run["run_id"],
        "complete",
        {"worker_id": "w1", "attempt": 1, "status": "failed", "error": {"type": "exception"}},
    )
    assert failed.json()["status"] == "queued"  # the deployment's max_retries: 1
    assert claimed["run_id"] == run["run_id"]
    client.post(f"/v1/runs/{run['run_id']}/cancel", headers=owner.headers)

    overridden = trigger_json(client, owner, {"deployment": name, "execution_mode": "nano", "max_retries": 0})
    assert overridden["execution_mode"] == "nano"
    claim_runs(client, worker_headers(settings), pool, capacity=50)
    last = worker_post(
        client,
        settings,
        overridden["run_id"],
        "complete",
        {"worker_id": "w1", "attempt": 1, "status": "failed", "error": {"type": "exception"}},
    )
    assert last.json()["status"] == "failed"  # max_retries given in the request wins


def trigger_json(client: TestClient, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/runs", headers=caller.headers, json=body)
    assert response.status_code == 202, response.text
    run: dict[str, Any] = client.get(f"/v1/runs/{response.json()['run_id']}", headers=caller.headers).json()
    return run


# The idempotency window


def test_concurrent_requests_with_one_key_make_one_run(client: TestClient, owner: Caller, pool: str) -> None:
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    headers = owner.headers | {"X-Idempotency-Key": unique("key")}
    answers = in_parallel([lambda: client.post("/v1/runs", headers=headers, json={"flow_name": flow})] * 12)
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["run_id"] for a in answers}) == 1
    assert len(client.get("/v1/runs", headers=owner.headers).json()["items"]) == 1


def test_a_key_starts_a_new_run_after_its_window(
    app: FastAPI, client: TestClient, owner: Caller, pool: str
) -> None:
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    key = unique("key")
    headers = owner.headers | {"X-Idempotency-Key": key}
    first = client.post("/v1/runs", headers=headers, json={"flow_name": flow}).json()["run_id"]
    age(app, first, hours=23, minutes=59)
    assert client.post("/v1/runs", headers=headers, json={"flow_name": flow}).json()["run_id"] == first
    age(app, first, hours=0, minutes=2)  # now 24 h 1 min old
    second = client.post("/v1/runs", headers=headers, json={"flow_name": flow}).json()["run_id"]
    assert second != first
    assert client.post("/v1/runs", headers=headers, json={"flow_name": flow}).json()["run_id"] == second
    other_org = new_org(app, client)
    register_flow(client, other_org, spec(python_node("only", OK)), flow_name=flow, default_executor=pool)
    elsewhere = client.post(
        "/v1/runs", headers=other_org.headers | {"X-Idempotency-Key": key}, json={"flow_name": flow}
    )
    assert elsewhere.json()["run_id"] not in (first, second)  # a key belongs to one org


def age(app: FastAPI, run_id: str, *, hours: int, minutes: int) -> None:
    """Move a run's creation back in time, as if the window had been running that long."""
    with app.state.db.transaction(write=True) as session:
        run = session.get(Run, run_id)
        assert run is not None
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(created_at=run.created_at - timedelta(hours=hours, minutes=minutes))
        )


# Group commit


def test_concurrent_triggers_commit_together_and_fail_alone(
    app: FastAPI, client: TestClient, owner: Caller, pool: str
) -> None:
    """50 concurrent triggers, valid and invalid mixed: each valid one is created once with its own
    audit row, each invalid one answers 400 and leaves nothing behind."""
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    invalid = [
        {"executor": "teleport"},  # refused inside the shared transaction
        {"parameters": {"big": "x" * 300_000}},  # likewise, by its size
        {"parameters": "not an object"},  # refused by request validation, before it
    ]
    bodies: list[dict[str, Any]] = [
        {"flow_name": flow, "tags": [f"n{i}"], **(invalid[i % 3] if i % 4 == 0 else {})} for i in range(50)
    ]
    answers = in_parallel(
        [lambda body=body: client.post("/v1/runs", headers=owner.headers, json=body) for body in bodies]
    )
    created: dict[str, str] = {}
    for i, answer in enumerate(answers):
        if i % 4 == 0:
            assert answer.status_code == 400, (i, answer.text)
            assert answer.json()["error"] == "invalid_input"
        else:
            assert answer.status_code == 202, (i, answer.text)
            created[answer.json()["run_id"]] = f"n{i}"
    assert len(created) == 37
    with app.state.db.transaction(write=False) as session:
        runs = session.execute(select(Run.id, Run.tags).where(Run.org_id == owner.org_id)).all()
        audit = session.execute(
            select(AuditLog.resource_id, func.count())
            .where(AuditLog.org_id == owner.org_id, AuditLog.resource_type == "run")
            .group_by(AuditLog.resource_id)
        ).all()
    assert {run_id: tags[0] for run_id, tags in runs} == created  # each valid one once, nothing else
    assert dict(audit) == dict.fromkeys(created, 1)
    listed = client.get("/v1/runs", headers=owner.headers, params={"limit": 100}).json()["items"]
    assert len({r["run_slug"] for r in listed}) == len(created)  # slugs unique within the batches


def test_one_key_across_two_server_processes_makes_one_run(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    """Two servers on one database (two group commits, two transactions): on PostgreSQL both may
    miss the key and insert; the unique index lets one win and the other answers its run."""
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    with TestClient(create_app(settings, migrate=False), client=("198.51.100.8", 50000)) as replica:
        for _ in range(5):
            headers = owner.headers | {"X-Idempotency-Key": unique("key")}
            answers = in_parallel(
                [
                    lambda c=c, h=headers: c.post("/v1/runs", headers=h, json={"flow_name": flow})
                    for c in (client, replica)
                ]
                * 4
            )
            assert {a.status_code for a in answers} == {202}, [a.text for a in answers]
            assert len({a.json()["run_id"] for a in answers}) == 1
    assert len(client.get("/v1/runs", headers=owner.headers).json()["items"]) == 5


@pytest.mark.parametrize("fail_after_writing", [True, False])
def test_a_failing_unit_leaves_nothing_and_the_batch_commits(app: FastAPI, fail_after_writing: bool) -> None:
    """Group commit itself: a unit that raises is rolled back alone (after writing: the batch runs
    again with savepoints; before: its error is simply its answer, nothing runs twice); the others
    commit, in fewer transactions than units."""
    db = app.state.db
    group = GroupCommit(db)
    marker = unique("unit")
    commits: list[int] = []
    calls: list[int] = []

    def count(_connection: Any) -> None:
        commits.append(1)

    event.listen(db.engine, "commit", count)

    def write(session: Session, *, n: int) -> int:
        calls.append(n)
        if n % 3 == 0 and not fail_after_writing:
            raise InvalidInput(f"unit {n} refused before writing")
        row = AuditLog(
            actor_type="system",
            action="create",
            resource_type="test",
            resource_id=f"{marker}-{n}",
            changes={},
        )
        session.add(row)
        session.flush()  # written before the unit fails
        if n % 3 == 0:
            raise InvalidInput(f"unit {n} refused after writing")
        return n

    async def all_units() -> list[Any]:
        return await asyncio.gather(*(group.run(write, n=n) for n in range(30)), return_exceptions=True)

    try:
        results = asyncio.run(all_units())
    finally:
        event.remove(db.engine, "commit", count)
    for n, result in enumerate(results):
        assert isinstance(result, InvalidInput) if n % 3 == 0 else result == n, (n, result)
    with db.transaction(write=False) as session:
        written = session.execute(
            select(AuditLog.resource_id).where(AuditLog.resource_id.like(f"{marker}-%"))
        ).scalars()
        assert sorted(written) == sorted(f"{marker}-{n}" for n in range(30) if n % 3)
    assert 1 <= len(commits) < 30
    if not fail_after_writing:
        assert sorted(calls) == list(range(30))


def test_the_trigger_answer_is_exactly_the_response_model(app: FastAPI, client: TestClient) -> None:
    """`POST /runs` renders its answer with orjson: it must be the `RunTriggered` JSON form, the
    same the run's own read shows (timestamps in UTC with `Z`)."""
    owner = new_org(app, client)
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    answer = client.post("/v1/runs", headers=owner.headers, json={"flow_name": flow, "parameters": {"n": 1}})
    assert answer.status_code == 202 and answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert RunTriggered.model_validate(body).model_dump(mode="json") == body
    read = client.get(f"/v1/runs/{body['run_id']}", headers=owner.headers).json()
    assert {key: read[key] for key in ("run_slug", "flow_version", "status", "created_at")} == {
        key: body[key] for key in ("run_slug", "flow_version", "status", "created_at")
    }


def test_an_unknown_flow_name_suggests_the_close_ones(client: TestClient, owner: Caller) -> None:
    name = register_flow(client, owner, spec(python_node("n", OK)))
    typo = name[:-1] + ("x" if name[-1] != "x" else "y")
    answer = client.post("/v1/runs", headers=owner.headers, json={"flow_name": typo})
    assert answer.status_code == 404
    assert answer.json()["details"] == {"flow_name": f"did you mean {name}?"}
    assert answer.json()["message"] == f"Flow {typo} not found; did you mean {name}?"
    far = client.post("/v1/runs", headers=owner.headers, json={"flow_name": "zzzzzzzz-nothing-alike"})
    assert (far.status_code, far.json()["details"]) == (404, {})


def test_a_name_rule_is_explained_in_words(client: TestClient, owner: Caller) -> None:
    answer = client.post("/v1/runs", headers=owner.headers, json={"flow_name": "-not a name"})
    assert answer.status_code == 400
    rule = "1 to 128 characters: letters, digits, _, . and -; starting with a letter or a digit"
    assert answer.json()["details"] == {"flow_name": f"must be {rule}"}
