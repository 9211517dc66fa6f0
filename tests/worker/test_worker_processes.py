"""Real processes: a uvicorn `dagy server` and `dagy worker` subprocesses sharing one database.

A worker killed mid-run loses its lease; the reaper re-queues the run and another worker completes
it exactly once, while the dead attempt's late writes are refused; the new attempt resumes after the
nodes the dead one completed. Two workers never run the same run.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dagy.server.db.models import NodeRun, Run
from dagy.server.settings import Settings
from tests.factories import new_org
from tests.flow_factories import python_node, spec
from tests.worker.live import Workers, finished, serving
from tests.worker.live import api_for as _api
from tests.worker.live import register as _register
from tests.worker.live import wait as _wait

pytestmark = pytest.mark.slow

SLEEPER = """
import time

def main(inputs, params):
    print("started", flush=True)
    time.sleep(params["sleep"])
    return {"slept": params["sleep"]}
"""
ECHO = "def main(inputs, params):\n    return {'n': params['n']}\n"


def test_a_killed_worker_loses_its_run_to_the_next_worker_once(
    app: FastAPI, client: TestClient, live_server: str, workers: Workers, pool: str
) -> None:
    owner = new_org(app, client)
    api = _api(live_server, owner)
    flow = _register(api, spec(python_node("sleeper", SLEEPER)), pool)
    run_id = api.post("/runs", json={"flow_name": flow, "parameters": {"sleep": 3}}).json()["run_id"]

    first = workers.start("w-first", pool)
    _wait(
        lambda: any(e["message"] == "started" for e in api.get(f"/runs/{run_id}/logs").json()["events"]),
        20,
        "the first attempt to start",
    )
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    workers.start("w-second", pool)

    run = finished(api, run_id, 40)
    assert (run["status"], run["output"], run["retry_count"]) == ("completed", {"slept": 3}, 1)
    with app.state.db.transaction(write=False) as session:
        row = session.execute(select(Run).where(Run.id == run_id)).scalar_one()
        assert (row.attempt, row.lease_owner) == (2, "w-second")
        node_runs = session.execute(select(NodeRun).where(NodeRun.run_id == run_id)).scalars().all()
        assert sorted((n.attempt, n.status) for n in node_runs) == [(1, "abandoned"), (2, "completed")]
    messages = [e["message"] for e in api.get(f"/runs/{run_id}/logs").json()["events"]]
    assert messages.count("started") == 2
    lost = "[ERROR] Attempt 1 lost its worker w-first (lease expired); the run goes back to the queue"
    assert any(m.startswith(lost) for m in messages)

    worker_api = httpx.Client(
        base_url=f"{live_server}/v1", headers={"Authorization": f"Bearer {workers.token}"}
    )
    stale = {"worker_id": "w-first", "attempt": 1}
    late_logs = worker_api.post(
        f"/workers/runs/{run_id}/logs",
        json=stale | {"lines": [{"timestamp": "2026-01-01T00:00:00Z", "message": "from beyond"}]},
    )
    late_result = worker_api.post(f"/workers/runs/{run_id}/complete", json=stale | {"status": "failed"})
    assert (late_logs.status_code, late_result.status_code) == (409, 409)
    assert api.get(f"/runs/{run_id}").json()["status"] == "completed"


def test_two_workers_never_run_the_same_run(
    app: FastAPI, client: TestClient, live_server: str, workers: Workers, pool: str
) -> None:
    owner = new_org(app, client)
    api = _api(live_server, owner)
    flow = _register(api, spec(python_node("echo", ECHO)), pool)
    run_ids = [
        api.post("/runs", json={"flow_name": flow, "parameters": {"n": n}}).json()["run_id"]
        for n in range(200)
    ]
    workers.start("w-left", pool)
    workers.start("w-right", pool)

    def all_done() -> list[dict[str, Any]] | None:
        listed = api.get("/runs", params={"flow_name": flow, "status": "completed", "limit": 100}).json()
        if len(listed["items"]) < 100:  # cheap check first: the last page of 200 is not done yet
            return None
        runs = [api.get(f"/runs/{run_id}").json() for run_id in run_ids]
        return runs if all(r["status"] in ("completed", "failed") for r in runs) else None

    runs = _wait(all_done, 180, "200 runs to finish")
    assert [(r["status"], r["output"]) for r in runs] == [("completed", {"n": n}) for n in range(200)]
    with app.state.db.transaction(write=False) as session:
        rows = session.execute(select(Run).where(Run.id.in_(run_ids))).scalars().all()
        node_runs = session.execute(select(NodeRun).where(NodeRun.run_id.in_(run_ids))).scalars().all()
    assert all(row.attempt == 1 and row.retry_count == 0 for row in rows)
    assert sorted(n.run_id for n in node_runs) == sorted(run_ids)  # one node run per run: executed once
    assert {row.lease_owner for row in rows} == {"w-left", "w-right"}


def test_a_resumed_attempt_does_not_run_completed_nodes_again(
    app: FastAPI, client: TestClient, workers: Workers, pool: str
) -> None:
    owner = new_org(app, client)
    api = _api(workers.url, owner)
    first = "def main(inputs, params):\n    print('first ran', flush=True)\n    return 5\n"
    second = (
        "import time\n\ndef main(inputs, params):\n    print('started', flush=True)\n"
        "    time.sleep(params['sleep'])\n    return inputs['first'] + 1\n"
    )
    flow_spec = spec(python_node("first", first), python_node("second", second), edges=(("first", "second"),))
    flow = _register(api, flow_spec, pool)
    run_id = api.post("/runs", json={"flow_name": flow, "parameters": {"sleep": 2}}).json()["run_id"]

    doomed = workers.start("w-doomed", pool)
    _wait(
        lambda: any(e["message"] == "started" for e in api.get(f"/runs/{run_id}/logs").json()["events"]),
        20,
        "the second node to start",
    )
    time.sleep(0.6)  # the first node's completion reaches the server with the next flush
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    workers.start("w-heir", pool)

    run = finished(api, run_id, 40)
    assert (run["status"], run["output"]) == ("completed", 6)
    messages = [e["message"] for e in api.get(f"/runs/{run_id}/logs").json()["events"]]
    assert messages.count("first ran") == 1  # the side effect happened once
    assert messages.count("started") == 2
    with app.state.db.transaction(write=False) as session:
        rows = session.execute(select(NodeRun).where(NodeRun.run_id == run_id)).scalars().all()
    assert sorted((n.attempt, n.node_id, n.status) for n in rows) == [
        (1, "first", "completed"),
        (1, "second", "abandoned"),
        (2, "first", "completed"),
        (2, "second", "completed"),
    ]


def test_a_worker_stopped_while_its_claim_waits_takes_no_run(
    app: FastAPI, client: TestClient, live_server: str, workers: Workers, pool: str
) -> None:
    """A `dagy worker` stopped (SIGTERM) while its long-poll claim waits on the server: the server
    sees the connection gone and hands the next run to no one, instead of to a claim nobody reads
    (the run would show `running` until its lease expired, then lose a try)."""
    owner = new_org(app, client)
    api = _api(live_server, owner)
    flow = _register(api, spec(python_node("echo", ECHO)), pool)
    stopped = workers.start("w-stopped", pool)
    time.sleep(4)  # started, and its claim is waiting on the server (which holds one up to 2 s)
    stopped.send_signal(signal.SIGTERM)  # the worker ends its claim's connection at once
    time.sleep(0.2)
    run_id = api.post("/runs", json={"flow_name": flow, "parameters": {"n": 1}}).json()["run_id"]
    stopped.wait(10)
    time.sleep(0.5)
    assert api.get(f"/runs/{run_id}").json()["status"] == "queued"
    workers.start("w-next", pool)
    run = finished(api, run_id, 20)
    assert (run["status"], run["output"], run["retry_count"]) == ("completed", {"n": 1}, 0)
    with app.state.db.transaction(write=False) as session:
        row = session.execute(select(Run).where(Run.id == run_id)).scalar_one()
    assert (row.attempt, row.lease_owner) == (1, "w-next")


def test_a_stopping_server_answers_waiting_claims_empty_at_once(
    app: FastAPI, settings: Settings, tmp_path: Path, pool: str
) -> None:
    """SIGTERM to `dagy server` while a `dagy worker`'s long-poll claim waits on it: the claim is
    answered (empty) and the server stops at once, instead of cancelling the claim with a
    traceback after its grace period."""
    # Claims held longer than uvicorn's 5 s of grace for open requests.
    held = settings.model_copy(update={"queue": settings.queue.model_copy(update={"claim_wait_seconds": 20})})
    with serving(held, tmp_path) as (url, server):
        workers = Workers(url, held, tmp_path)
        try:
            workers.start("w-waiting", pool)
            time.sleep(4)  # started, and its claim is waiting on the server
            asked = time.monotonic()
            server.send_signal(signal.SIGTERM)
            server.wait(10)
            took = time.monotonic() - asked
        finally:
            workers.stop_all()
    log = (tmp_path / "server.log").read_text()
    # uvicorn ends by re-raising the signal it was stopped with.
    assert (
        server.returncode in (0, -signal.SIGTERM) and "Traceback" not in log and "CancelledError" not in log
    ), log
    assert took < 3, f"the server took {took:.1f} s to stop"
