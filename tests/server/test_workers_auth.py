"""Who may speak the worker protocol: the installation worker token (every org's runs) and an org's
API key holding the worker scopes (that org's runs only; another org's run is a 404)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.settings import Settings
from tests.factories import Caller, new_org
from tests.flow_factories import (
    api_key,
    claim_runs,
    python_node,
    register_flow,
    spec,
    trigger,
    worker_headers,
)

OK = "def main(inputs, params):\n    return params\n"
WORKER_SCOPES = ("flows.read", "runs.trigger", "secrets.read")

pytestmark = pytest.mark.settings("own_pool_settings")


@pytest.fixture
def stranger(app: FastAPI, client: TestClient) -> Caller:
    return new_org(app, client)


def queue_runs(client: TestClient, caller: Caller, pool: str, count: int, **body: Any) -> list[str]:
    flow = register_flow(client, caller, spec(python_node("only", OK)), default_executor=pool)
    return [trigger(client, caller, flow, **body)["run_id"] for _ in range(count)]


def test_an_org_key_claims_only_its_orgs_runs(
    client: TestClient, settings: Settings, owner: Caller, stranger: Caller, pool: str
) -> None:
    theirs = queue_runs(client, stranger, pool, 3, priority=1)  # ahead of ours in the queue
    ours = queue_runs(client, owner, pool, 2, priority=50)
    key = api_key(client, owner, *WORKER_SCOPES)
    claimed = claim_runs(client, key, pool, worker_id="org-worker")
    assert sorted(r["run_id"] for r in claimed) == sorted(ours)
    assert {r["org_id"] for r in claimed} == {owner.org_id}
    assert claim_runs(client, key, pool, worker_id="org-worker") == []
    by_token = claim_runs(client, worker_headers(settings), pool, worker_id="fleet")
    assert sorted(r["run_id"] for r in by_token) == sorted(theirs)


def test_an_org_key_cannot_touch_another_orgs_run(
    client: TestClient, settings: Settings, owner: Caller, stranger: Caller, pool: str
) -> None:
    [their_run] = queue_runs(client, stranger, pool, 1)
    claim_runs(client, worker_headers(settings), pool, worker_id="w1")
    key = api_key(client, owner, *WORKER_SCOPES)
    ids = {"worker_id": "w1", "attempt": 1}
    writes = [
        ("heartbeat", {}),
        ("logs", {"lines": [{"timestamp": "2026-01-01T00:00:00Z", "message": "x"}]}),
        ("nodes", {"node_runs": [{"node_id": "a", "node_type": "t", "status": "running"}]}),
        ("complete", {"status": "completed"}),
    ]
    for what, body in writes:
        response = client.post(f"/v1/workers/runs/{their_run}/{what}", headers=key, json=ids | body)
        assert response.status_code == 404 and response.json()["error"] == "not_found", what
    artifact = client.get(f"/v1/workers/runs/{their_run}/artifact", headers=key, params=ids)
    assert artifact.status_code == 404
    run = client.get(f"/v1/runs/{their_run}", headers=stranger.headers).json()
    assert run["status"] == "running"  # untouched


def test_a_key_worker_runs_an_attempt_and_its_secret_reads_name_the_key(
    client: TestClient, owner: Caller, pool: str
) -> None:
    assert (
        client.post(
            "/v1/secrets", headers=owner.headers, json={"secret_name": "tok", "value": "s3cr3t"}
        ).status_code
        == 201
    )
    flow = register_flow(
        client, owner, spec(python_node("only", OK, token={"secret": "tok"})), default_executor=pool
    )
    run_id = trigger(client, owner, flow)["run_id"]
    key = api_key(client, owner, *WORKER_SCOPES)
    [claimed] = claim_runs(client, key, pool, worker_id="org-worker")
    assert claimed["secrets"] == {"tok": "s3cr3t"}
    ids = {"worker_id": "org-worker", "attempt": 1}
    assert client.post(f"/v1/workers/runs/{run_id}/heartbeat", headers=key, json=ids).status_code == 200
    done = client.post(f"/v1/workers/runs/{run_id}/complete", headers=key, json=ids | {"status": "completed"})
    assert done.json()["status"] == "completed"
    trail = client.get("/v1/audit-logs", headers=owner.headers, params={"action": "read"}).json()["items"]
    [row] = [r for r in trail if r["resource_id"] == run_id]
    assert row["actor_email"] == owner.email  # the key's creator: the key is theirs
    assert row["changes"]["secrets_read"] == ["tok"] and row["changes"]["worker_id"] == "org-worker"


def test_keys_without_the_worker_scopes_and_user_sessions_are_refused(
    client: TestClient, owner: Caller, pool: str
) -> None:
    body = {"worker_id": "w1", "executor": pool}
    for scopes in [("flows.read", "runs.trigger"), ("runs.trigger", "secrets.read"), ("runs.read",)]:
        refused = client.post("/v1/workers/claim", headers=api_key(client, owner, *scopes), json=body)
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden", scopes
        assert "missing" in refused.json()["details"]["scopes"]
    assert client.post("/v1/workers/claim", headers=owner.headers, json=body).status_code == 403
    assert client.post("/v1/workers/claim", json=body).status_code == 401


def test_a_key_worker_and_the_token_fleet_share_one_queue(
    client: TestClient, settings: Settings, owner: Caller, stranger: Caller, pool: str
) -> None:
    """Claims in parallel: every run is handed out once, and the org's key only ever gets its own."""
    ours = set(queue_runs(client, owner, pool, 15))
    theirs = set(queue_runs(client, stranger, pool, 15))
    key = api_key(client, owner, *WORKER_SCOPES)
    got: dict[str, list[dict[str, Any]]] = {"key": [], "token": []}

    def work(name: str, headers: dict[str, str]) -> None:
        for _ in range(20):
            got[name].extend(claim_runs(client, headers, pool, worker_id=name, capacity=2))

    threads = [
        threading.Thread(target=work, args=("key", key)),
        threading.Thread(target=work, args=("token", worker_headers(settings))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    key_runs = [r["run_id"] for r in got["key"]]
    token_runs = [r["run_id"] for r in got["token"]]
    assert set(key_runs) <= ours
    assert theirs <= set(token_runs)
    assert sorted(key_runs + token_runs) == sorted(ours | theirs)  # each exactly once
