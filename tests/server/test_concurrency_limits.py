"""Concurrency limits per flow, per deployment and named pools (docs/concurrency.md), through HTTP:
the claim starts no more runs than a limit allows, `cancel_new` and `fail` end the runs over it, a
slot frees when its run ends or loses its lease, and two claims at once never go over a limit."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dagy.protocol import ClaimRequest
from dagy.server.db.models import ConcurrencySlot
from dagy.server.domains.runs import queue
from dagy.server.services.reaper import sweep_once
from dagy.server.settings import Settings
from tests.factories import Caller, new_org, unique
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


def put_limit(client: TestClient, caller: Caller, kind: str, name: str, **body: Any) -> dict[str, Any]:
    response = client.put(f"/v1/concurrency-limits/{kind}/{name}", headers=caller.headers, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def new_flow(client: TestClient, owner: Caller, pool: str, *node_types: str) -> str:
    nodes = [python_node("only", OK)] + [
        {"id": f"n{i}", "type": node_type, "data": {"seconds": 0}} for i, node_type in enumerate(node_types)
    ]
    return register_flow(client, owner, spec(*nodes), default_executor=pool)


def claimed(client: TestClient, settings: Settings, pool: str, capacity: int = 10) -> list[str]:
    return [run["run_id"] for run in claim_runs(client, worker_headers(settings), pool, capacity=capacity)]


def finish(client: TestClient, settings: Settings, run_id: str) -> None:
    body = {"worker_id": "w1", "attempt": 1, "status": "completed", "output": {"ok": True}}
    response = worker_post(client, settings, run_id, "complete", body)
    assert response.status_code == 200, response.text


def run_of(client: TestClient, owner: Caller, run_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/runs/{run_id}", headers=owner.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_a_flow_limit_queues_runs_until_a_slot_frees(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = new_flow(client, owner, pool)
    put_limit(client, owner, "flows", flow, slots=2)
    runs = [trigger(client, owner, flow)["run_id"] for _ in range(4)]

    assert claimed(client, settings, pool) == runs[:2]
    assert claimed(client, settings, pool) == []  # both slots held; the others wait in the queue
    limit = client.get(f"/v1/concurrency-limits/flows/{flow}", headers=owner.headers).json()
    assert (limit["active_slots"], limit["active_run_ids"]) == (2, runs[:2])
    assert run_of(client, owner, runs[2])["status"] == "queued"

    finish(client, settings, runs[0])
    assert claimed(client, settings, pool) == [runs[2]]
    finish(client, settings, runs[1])
    assert claimed(client, settings, pool) == [runs[3]]


def test_the_slots_of_ended_runs_count_for_nothing_and_are_swept(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = new_flow(client, owner, pool)
    put_limit(client, owner, "flows", flow, slots=1)
    first, second = (trigger(client, owner, flow)["run_id"] for _ in range(2))
    assert claimed(client, settings, pool) == [first]
    finish(client, settings, first)

    assert slot_rows(app, first) == 1  # left behind: its run no longer runs, so it holds nothing
    assert claimed(client, settings, pool) == [second]
    sweep_once(app.state.db)
    assert slot_rows(app, first) == 0
    assert slot_rows(app, second) == 1


def slot_rows(app: FastAPI, run_id: str) -> int:
    with app.state.db.transaction(write=False) as session:
        return len(session.execute(select(ConcurrencySlot).where(ConcurrencySlot.run_id == run_id)).all())


def test_runs_passed_over_do_not_hold_up_other_flows(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    """A claim looks past the runs a full limit passes over, down the queue, to runs it may start."""
    limited, free = new_flow(client, owner, pool), new_flow(client, owner, pool)
    put_limit(client, owner, "flows", limited, slots=1)
    held = [trigger(client, owner, limited)["run_id"] for _ in range(queue.CLAIM_WINDOW + 5)]
    other = trigger(client, owner, free)["run_id"]

    assert claimed(client, settings, pool, capacity=1) == [held[0]]
    assert claimed(client, settings, pool, capacity=1) == [other]


def test_cancel_new_and_fail_end_the_runs_over_the_limit(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    cancel_flow, fail_flow = new_flow(client, owner, pool), new_flow(client, owner, pool)
    put_limit(client, owner, "flows", cancel_flow, slots=1, collision_strategy="cancel_new")
    put_limit(client, owner, "flows", fail_flow, slots=1, collision_strategy="fail")
    first_c, second_c = (trigger(client, owner, cancel_flow)["run_id"] for _ in range(2))
    first_f, second_f = (trigger(client, owner, fail_flow)["run_id"] for _ in range(2))

    assert claimed(client, settings, pool) == [first_c, first_f]
    cancelled, failed = run_of(client, owner, second_c), run_of(client, owner, second_f)
    assert cancelled["status"] == "cancelled" and failed["status"] == "failed"
    assert cancelled["error"]["type"] == failed["error"]["type"] == "concurrency_limit"
    assert f"flow {fail_flow} already runs 1 run at once" in failed["error"]["message"]
    logs = client.get(f"/v1/runs/{second_f}/logs", headers=owner.headers).json()["events"]
    assert any("collision_strategy fail" in line["message"] for line in logs)
    assert claimed(client, settings, pool) == []  # refused runs are never handed out


def test_a_deployment_limit_counts_only_that_deployments_runs(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = new_flow(client, owner, pool)
    deployment = unique("deploy")
    body = {"name": deployment, "flow_name": flow, "default_executor": pool}
    assert client.post("/v1/deployments", headers=owner.headers, json=body).status_code == 201
    put_limit(client, owner, "deployments", deployment, slots=1)
    deployed = [
        client.post("/v1/runs", headers=owner.headers, json={"deployment": deployment}).json()["run_id"]
        for _ in range(2)
    ]
    direct = trigger(client, owner, flow)["run_id"]

    assert claimed(client, settings, pool) == [deployed[0], direct]


def test_a_pool_takes_slots_by_tag_and_by_node_type(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    tagged_flow, typed_flow = new_flow(client, owner, pool), new_flow(client, owner, pool, "delay")
    put_limit(client, owner, "pools", "warehouse", slots=2, tags=["warehouse"], node_types=["delay"])
    tagged = [trigger(client, owner, tagged_flow, tags=["warehouse"])["run_id"] for _ in range(2)]
    typed = trigger(client, owner, typed_flow)["run_id"]
    untagged = trigger(client, owner, tagged_flow)["run_id"]

    assert claimed(client, settings, pool) == [*tagged, untagged]
    finish(client, settings, tagged[0])
    assert claimed(client, settings, pool) == [typed]
    listed = client.get("/v1/concurrency-limits", headers=owner.headers, params={"kind": "pools"}).json()
    [item] = listed["items"]
    assert (item["name"], item["active_slots"], item["active_run_ids"]) == (
        "warehouse",
        2,
        [tagged[1], typed],
    )


def test_a_run_whose_lease_expired_gives_its_slot_back(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = new_flow(client, owner, pool)
    put_limit(client, owner, "flows", flow, slots=1)
    first, second = (trigger(client, owner, flow)["run_id"] for _ in range(2))
    assert claimed(client, settings, pool) == [first]

    time.sleep(settings.queue.lease_seconds + 0.5)
    with app.state.db.transaction(write=True) as session:
        assert queue.reap_expired_leases(session, limit=10_000) >= 1
    assert run_of(client, owner, first)["status"] == "queued"
    assert claimed(client, settings, pool) == [first]  # back in the queue, first in line again
    assert run_of(client, owner, second)["status"] == "queued"


@pytest.mark.postgres_only
@pytest.mark.parametrize("case", [(3, 5), (5, 3)], ids=["3-slots-5-per-claim", "5-slots-3-per-claim"])
def test_claims_at_once_never_go_over_a_limit(
    app: FastAPI, client: TestClient, *, settings: Settings, owner: Caller, pool: str, case: tuple[int, int]
) -> None:
    """Eight claims on PostgreSQL, each in its own transaction on its own connection, overlapping
    (each holds its transaction a moment after claiming). Each admits runs on the limit's unlocked
    count, then confirms under its lock: the first to confirm keeps its runs, the others start again
    on the locked count (5 slots, 3 per claim: the second claim keeps 2)."""
    slots, capacity = case
    flow = new_flow(client, owner, pool)
    put_limit(client, owner, "flows", flow, slots=slots)
    for _ in range(12):
        trigger(client, owner, flow)
    barrier = threading.Barrier(8)
    won: list[str] = []

    def claim(worker: int) -> None:
        request = ClaimRequest(worker_id=f"w{worker}", executor=pool, capacity=capacity)
        barrier.wait()
        with app.state.db.transaction(write=True) as session:
            runs = queue.claim_runs(
                session,
                scope=queue.WorkerScope(org_id=None),
                data=request,
                lease_seconds=30,
                settings=settings,
            )
            time.sleep(0.3)
        won.extend(run.run_id for run in runs)

    threads = [threading.Thread(target=claim, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == slots
    holders = client.get(f"/v1/concurrency-limits/flows/{flow}", headers=owner.headers).json()
    assert sorted(holders["active_run_ids"]) == sorted(won)


def test_limits_are_validated_scoped_and_audited(
    app: FastAPI, client: TestClient, owner: Caller, pool: str
) -> None:
    flow = new_flow(client, owner, pool)
    bad = client.put(f"/v1/concurrency-limits/flows/{flow}", headers=owner.headers, json={"slots": 0})
    assert bad.status_code == 400 and "slots" in bad.json()["details"]
    tagged = client.put(
        f"/v1/concurrency-limits/flows/{flow}", headers=owner.headers, json={"slots": 1, "tags": ["x"]}
    )
    assert tagged.status_code == 400 and "tags" in tagged.json()["details"]
    empty_pool = client.put("/v1/concurrency-limits/pools/p", headers=owner.headers, json={"slots": 1})
    assert empty_pool.status_code == 400 and "tags" in empty_pool.json()["details"]
    missing = client.put("/v1/concurrency-limits/flows/nope", headers=owner.headers, json={"slots": 1})
    assert missing.status_code == 404 and missing.json()["details"] == {"flow_name": "no such flow"}
    missing = client.put("/v1/concurrency-limits/deployments/nope", headers=owner.headers, json={"slots": 1})
    assert missing.status_code == 404
    strategy = client.put(
        f"/v1/concurrency-limits/flows/{flow}",
        headers=owner.headers,
        json={"slots": 1, "collision_strategy": "drop"},
    )
    assert strategy.status_code == 400 and "collision_strategy" in strategy.json()["details"]

    put_limit(client, owner, "flows", flow, slots=1)
    replaced = put_limit(client, owner, "flows", flow, slots=4, collision_strategy="cancel_new")
    assert (replaced["slots"], replaced["collision_strategy"]) == (4, "cancel_new")
    other = new_org(app, client)
    assert client.get(f"/v1/concurrency-limits/flows/{flow}", headers=other.headers).status_code == 404
    assert client.get("/v1/concurrency-limits", headers=other.headers).json()["items"] == []
    assert client.delete(f"/v1/concurrency-limits/flows/{flow}", headers=other.headers).status_code == 404

    trail = client.get(
        "/v1/audit-logs", headers=owner.headers, params={"resource_type": "concurrency_limit"}
    ).json()["items"]
    assert sorted(row["action"] for row in trail) == ["create", "update"]
    assert client.delete(f"/v1/concurrency-limits/flows/{flow}", headers=owner.headers).json()["deleted"]
    assert client.get(f"/v1/concurrency-limits/flows/{flow}", headers=owner.headers).status_code == 404


def test_deleting_the_flow_deletes_its_limit(client: TestClient, owner: Caller, pool: str) -> None:
    flow = new_flow(client, owner, pool)
    put_limit(client, owner, "flows", flow, slots=1)
    assert client.delete(f"/v1/flows/{flow}", headers=owner.headers).status_code == 200
    assert client.get("/v1/concurrency-limits", headers=owner.headers).json()["items"] == []
