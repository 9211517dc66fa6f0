"""What a claimed run carries (docs/workers.md, "The claim payload"), through HTTP: secret values
and their audit, the deployment's environment, completed nodes of earlier attempts, subflows,
limits; a run whose secret is missing fails at the claim and is never handed out."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.settings import Settings
from tests.factories import Caller, new_org, unique
from tests.flow_factories import (
    api_key,
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


def add_secret(
    client: TestClient, caller: Caller, name: str, value: str, environment: str | None = None
) -> None:
    body = {"secret_name": name, "value": value} | ({"environment": environment} if environment else {})
    assert client.post("/v1/secrets", headers=caller.headers, json=body).status_code == 201


def subflow_node(node_id: str, flow_name: str, version: str | None = None) -> dict[str, Any]:
    data = {"flow_name": flow_name} | ({"flow_version": version} if version else {})
    return {"id": node_id, "type": "subflow", "data": data}


def deploy_in_environment(
    client: TestClient, owner: Caller, flow: str, pool: str, **settings: Any
) -> tuple[str, str]:
    """A new environment with variables, and a deployment of `flow` in it: (environment, deployment)."""
    env = unique("env").lower()
    assert client.post("/v1/environments", headers=owner.headers, json={"env_name": env}).status_code == 201
    variables = {"variables": {"REGION": "eu-west-1", "LOG_LEVEL": "debug"}}
    assert (
        client.put(f"/v1/environments/{env}/variables", headers=owner.headers, json=variables).status_code
        == 200
    )
    name = unique("deploy")
    body = {"name": name, "flow_name": flow, "environment": env, "default_executor": pool, **settings}
    response = client.post("/v1/deployments", headers=owner.headers, json=body)
    assert response.status_code == 201, response.text
    return env, name


def test_claim_carries_secrets_environment_and_limits(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    child = register_flow(client, owner, spec(python_node("inner", OK, token={"secret": "child-token"})))
    flow = register_flow(
        client,
        owner,
        spec(
            python_node("a", OK, auth={"headers": [{"name": "X-Key", "value": {"secret": "api-key"}}]}),
            python_node("b", OK, db={"secret": "db-password"}, note={"secret": "x", "other": 1}),
            subflow_node("sub", child),
        ),
    )
    env, deployment = deploy_in_environment(client, owner, flow, pool, execution_mode="small")
    add_secret(client, owner, "api-key", "key-in-env", environment=env)
    add_secret(client, owner, "api-key", "key-without-env")
    add_secret(client, owner, "db-password", "pw-without-env")  # the fallback: none in the environment
    add_secret(client, owner, "child-token", "child-value")
    add_secret(client, owner, "unused", "never-handed-out")
    run = client.post("/v1/runs", headers=owner.headers, json={"deployment": deployment}).json()

    [claimed] = claim_runs(client, worker_headers(settings), pool)
    assert claimed["run_id"] == run["run_id"]
    assert claimed["deployment_name"] == deployment
    assert claimed["secrets"] == {
        "api-key": "key-in-env",
        "child-token": "child-value",
        "db-password": "pw-without-env",
    }
    assert claimed["env"] == {"REGION": "eu-west-1", "LOG_LEVEL": "debug"}
    assert claimed["limits"] == {"memory_mb": 1024, "timeout_seconds": 900}
    assert claimed["completed_nodes"] == {} and claimed["artifact"] is None
    assert claimed["subflows"][child]["flow_spec"]["nodes"][0]["id"] == "inner"

    trail = client.get("/v1/audit-logs", headers=owner.headers, params={"resource_type": "run"}).json()
    [row] = [r for r in trail["items"] if r["resource_id"] == run["run_id"] and r["action"] == "read"]
    assert row["changes"] == {
        "secrets_read": ["api-key", "child-token", "db-password"],
        "worker_id": "w1",
        "attempt": 1,
    }
    assert not any("value" in str(r["changes"]) for r in trail["items"])


def test_a_run_without_deployment_gets_no_environment_and_nano_limits(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    run_id = trigger(client, owner, flow)["run_id"]
    [claimed] = claim_runs(client, worker_headers(settings), pool)
    assert claimed["run_id"] == run_id
    assert (claimed["deployment_name"], claimed["env"], claimed["secrets"]) == (None, {}, {})
    assert claimed["limits"] == {"memory_mb": 256, "timeout_seconds": 60}
    trail = client.get("/v1/audit-logs", headers=owner.headers, params={"action": "read"}).json()
    assert trail["items"] == []  # no secret read, no audit row


def test_a_missing_secret_fails_the_run_at_claim_without_retry(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    add_secret(client, owner, "present", "v1")
    broken = register_flow(
        client,
        owner,
        spec(python_node("a", OK, key={"secret": "present"}), python_node("b", OK, key={"secret": "absent"})),
        default_executor=pool,
    )
    fine = register_flow(
        client, owner, spec(python_node("a", OK, key={"secret": "present"})), default_executor=pool
    )
    failing = trigger(client, owner, broken, max_retries=3)["run_id"]
    working = trigger(client, owner, fine)["run_id"]

    claimed = claim_runs(client, worker_headers(settings), pool)
    assert [r["run_id"] for r in claimed] == [working]  # the broken run is never handed out
    run = client.get(f"/v1/runs/{failing}", headers=owner.headers).json()
    assert (run["status"], run["retry_count"]) == ("failed", 0)
    assert run["error"]["type"] == "secret_not_found" and run["error"]["secret"] == "absent"
    assert "absent" in run["error"]["message"] and "v1" not in str(run["error"])
    assert claim_runs(client, worker_headers(settings), pool) == []


def test_completed_nodes_of_earlier_attempts_resume_the_next(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = register_flow(
        client,
        owner,
        spec(python_node("a", OK), python_node("b", OK), python_node("c", OK)),
        default_executor=pool,
    )
    run_id = trigger(client, owner, flow, max_retries=2)["run_id"]

    def attempt(number: int, worker: str, nodes: list[tuple[str, str, Any]]) -> dict[str, Any]:
        [claimed] = claim_runs(client, worker_headers(settings), pool, worker_id=worker)
        assert claimed["attempt"] == number
        reports = [
            {"node_id": n, "node_type": "python_function", "status": status, "output": output}
            for n, status, output in nodes
        ]
        ids = {"worker_id": worker, "attempt": number}
        assert worker_post(client, settings, run_id, "nodes", ids | {"node_runs": reports}).status_code == 200
        failed = {"status": "failed", "error": {"type": "exception", "message": "boom"}}
        assert worker_post(client, settings, run_id, "complete", ids | failed).json()["status"] == "queued"
        return claimed

    first = attempt(1, "w1", [("a", "completed", {"v": 1}), ("b", "failed", None)])
    assert first["completed_nodes"] == {}
    second = attempt(2, "w2", [("b", "completed", {"v": 2}), ("a", "completed", {"v": "again"})])
    assert second["completed_nodes"] == {"a": {"v": 1}}
    [third] = claim_runs(client, worker_headers(settings), pool, worker_id="w3")
    assert third["attempt"] == 3
    assert third["completed_nodes"] == {"a": {"v": "again"}, "b": {"v": 2}}  # the latest attempt wins


def test_subflows_resolve_by_name_and_version_through_levels(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    leaf = register_flow(client, owner, spec(python_node("leaf", OK, key={"secret": "deep"})))
    register_flow(client, owner, spec(python_node("leaf2", OK)), flow_name=leaf)  # version 2 is latest
    loop_name = unique("loop")
    # A flow that runs itself: the cycle stops at the first visit.
    register_flow(
        client,
        owner,
        spec(subflow_node("again", loop_name), subflow_node("leaf", leaf, "1")),
        flow_name=loop_name,
    )
    chain = [unique("level") for _ in range(7)]
    for i, name in reversed(list(enumerate(chain))):
        nodes = [subflow_node("next", chain[i + 1])] if i + 1 < len(chain) else [python_node("end", OK)]
        register_flow(client, owner, spec(*nodes), flow_name=name)
    add_secret(client, owner, "deep", "deep-value")
    root = register_flow(
        client,
        owner,
        spec(subflow_node("s1", loop_name), subflow_node("s2", chain[0]), subflow_node("s3", "no-such-flow")),
        default_executor=pool,
    )
    trigger(client, owner, root)
    [claimed] = claim_runs(client, worker_headers(settings), pool)
    subflows = claimed["subflows"]
    assert subflows[loop_name]["flow_version"] == "1"
    assert subflows[f"{leaf}@1"] == {
        "flow_name": leaf,
        "flow_version": "1",
        "flow_spec": spec(python_node("leaf", OK, key={"secret": "deep"})),
    }
    assert leaf not in subflows  # only the pinned version is referenced
    assert "no-such-flow" not in subflows  # unknown: the runtime fails that node
    assert [name for name in chain if name in subflows] == chain[:5]  # five levels deep at most
    assert claimed["secrets"] == {"deep": "deep-value"}


def test_another_orgs_flow_is_not_a_subflow(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    stranger = new_org(app, client)
    theirs = register_flow(client, stranger, spec(python_node("x", OK)))
    mine = register_flow(client, owner, spec(subflow_node("s", theirs)), default_executor=pool)
    trigger(client, owner, mine)
    [claimed] = claim_runs(client, worker_headers(settings), pool)
    assert claimed["subflows"] == {}


def test_the_fleet_is_what_claims_and_heartbeats_say(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    """`GET /v1/workers` lists the workers that serve the org, as their claims describe them; a run
    queued for an executor nobody asks for says so, until a worker does."""
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    run_id = trigger(client, owner, flow)["run_id"]
    waiting = client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()["status_detail"]
    assert waiting.startswith(f"No worker has asked for executor {pool}'s runs in the last minute")
    body = {"worker_id": "fleet-1", "executor": pool, "capacity": 1, "concurrency": 8, "isolation": "strict"}
    claimed = client.post("/v1/workers/claim", headers=worker_headers(settings), json=body)
    assert [run["run_id"] for run in claimed.json()["runs"]] == [run_id]
    other = trigger(client, owner, flow)["run_id"]
    assert client.get(f"/v1/runs/{other}", headers=owner.headers).json()["status_detail"] is None
    listed = client.get("/v1/workers", headers=owner.headers).json()["items"]
    mine = [worker for worker in listed if worker["worker_id"] == "fleet-1"]
    assert len(mine) == 1 and mine[0]["last_seen_at"] >= mine[0]["first_seen_at"]
    assert {k: mine[0][k] for k in ("scope", "executor", "concurrency", "isolation", "status")} == {
        "scope": "installation",
        "executor": pool,
        "concurrency": 8,
        "isolation": "strict",
        "status": "online",
    }
    # Another org's own worker (its API key) is not this org's to see.
    stranger = new_org(app, client)
    key = api_key(client, stranger, "flows.read", "runs.trigger", "secrets.read")
    theirs = {"worker_id": "their-1", "executor": pool, "capacity": 1}
    assert client.post("/v1/workers/claim", headers=key, json=theirs).status_code == 200
    seen = {w["worker_id"] for w in client.get("/v1/workers", headers=owner.headers).json()["items"]}
    assert "fleet-1" in seen and "their-1" not in seen
    theirs_seen = client.get("/v1/workers", headers=stranger.headers).json()["items"]
    assert {(w["worker_id"], w["scope"]) for w in theirs_seen} >= {
        ("their-1", "org"),
        ("fleet-1", "installation"),
    }
    recent = client.get("/v1/workers", headers=owner.headers, params={"seen_within_seconds": 0})
    assert recent.status_code == 400
