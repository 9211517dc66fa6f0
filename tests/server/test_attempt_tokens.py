"""A run container's attempt token (domains/runs/tokens.py) through HTTP: it speaks the worker
protocol for its own run's attempt (heartbeat, logs, node runs, result) and nothing else — another
run, another attempt or another worker id is 401, a claim is 403, the object routes and the user API
do not take it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from dagy.server.domains.runs.tokens import run_attempt_token, run_object_token
from dagy.server.settings import Settings
from tests.factories import Caller
from tests.flow_factories import claim_runs, python_node, register_flow, spec, trigger, worker_headers

OK = "def main(inputs, params):\n    return params\n"
LINE = {"timestamp": "2026-01-01T00:00:00Z", "message": "from the container"}

pytestmark = pytest.mark.settings("own_pool_settings")


def claimed(client: TestClient, settings: Settings, owner: Caller, pool: str, count: int) -> list[str]:
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    runs = [trigger(client, owner, flow)["run_id"] for _ in range(count)]
    got = claim_runs(client, worker_headers(settings), pool, worker_id="k8s-launcher")
    assert sorted(r["run_id"] for r in got) == sorted(runs)
    return runs


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post(client: TestClient, run_id: str, what: str, token: str, body: dict[str, Any]) -> Any:
    return client.post(f"/v1/workers/runs/{run_id}/{what}", headers=bearer(token), json=body)


def test_an_attempt_token_reports_its_own_attempt(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    [run_id] = claimed(client, settings, owner, pool, 1)
    token = run_attempt_token(settings, run_id=run_id, attempt=1, worker_id="k8s-launcher")
    ids = {"worker_id": "k8s-launcher", "attempt": 1}
    beat = post(client, run_id, "heartbeat", token, ids)
    assert beat.status_code == 200 and beat.json()["cancel_requested"] is False
    assert post(client, run_id, "logs", token, ids | {"lines": [LINE]}).status_code == 200
    done = post(client, run_id, "complete", token, ids | {"status": "completed", "output": {"n": 1}})
    assert done.status_code == 200 and done.json()["status"] == "completed"
    run = client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()
    assert (run["status"], run["output"]) == ("completed", {"n": 1})
    logs = client.get(f"/v1/runs/{run_id}/logs", headers=owner.headers).json()
    assert "from the container" in str(logs)


def test_an_attempt_token_is_good_for_nothing_else(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    mine, other = claimed(client, settings, owner, pool, 2)
    token = run_attempt_token(settings, run_id=mine, attempt=1, worker_id="k8s-launcher")
    ids = {"worker_id": "k8s-launcher", "attempt": 1}
    for run_id, body in (
        (other, ids),  # another run
        (mine, ids | {"attempt": 2}),  # another attempt
        (mine, ids | {"worker_id": "w9"}),  # another worker
    ):
        refused = post(client, run_id, "heartbeat", token, body)
        assert refused.status_code == 401 and refused.json()["error"] == "unauthorized", refused.text
    claim = client.post(
        "/v1/workers/claim", headers=bearer(token), json={"worker_id": "k8s-launcher", "executor": pool}
    )
    assert claim.status_code == 403, claim.text
    objects = client.get(f"/v1/workers/runs/{mine}/objects", headers=bearer(token), params=ids)
    assert objects.status_code == 401
    assert client.get("/v1/runs", headers=bearer(token)).status_code == 401
    # An object token does not pass for an attempt token.
    object_token = run_object_token(settings, run_id=mine, attempt=1, worker_id="k8s-launcher")
    assert post(client, mine, "heartbeat", object_token, ids).status_code == 401
    run = client.get(f"/v1/runs/{other}", headers=owner.headers).json()
    assert run["status"] == "running"  # untouched
