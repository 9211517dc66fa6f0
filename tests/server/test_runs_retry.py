"""`POST /runs/{id}/retry` and `POST /runs/{id}/rerun` through HTTP: a retried run resumes after the
nodes its earlier attempts completed (the embedded worker runs it), what may be retried and what is
409, the fields a retry resets, reruns with their original's settings and overridden parameters,
the concurrent-run limit, another org's runs and a viewer."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.domains.billing import service as billing
from dagy.server.identity import SYSTEM_ACTOR
from dagy.server.rbac import Role
from dagy.server.settings import Settings
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

OK = "def main(inputs, params):\n    return params\n"
# `a` says in the run's log each time it runs; `b` fails while the deployment's environment says so.
NODE_A = "def main(inputs, params):\n    print('node a ran')\n    return {'rows': params['rows']}\n"
NODE_B = (
    "import os\n"
    "def main(inputs, params):\n"
    "    if os.environ.get('B_BROKEN') == 'yes':\n"
    "        raise RuntimeError('b is broken')\n"
    "    return {'total': inputs['a']['rows'] * 2}\n"
)
FAILED = {"status": "failed", "error": {"type": "exception", "message": "boom"}}


def retry(client: TestClient, caller: Caller, run_id: str) -> Any:
    return client.post(f"/v1/runs/{run_id}/retry", headers=caller.headers)


def rerun(client: TestClient, caller: Caller, run_id: str, **body: Any) -> Any:
    return client.post(f"/v1/runs/{run_id}/rerun", headers=caller.headers, json=body)


def get_run(client: TestClient, caller: Caller, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = client.get(f"/v1/runs/{run_id}", headers=caller.headers).json()
    return run


def log_lines(client: TestClient, caller: Caller, run_id: str) -> list[str]:
    events = client.get(f"/v1/runs/{run_id}/logs", headers=caller.headers).json()["events"]
    return [event["message"] for event in events]


def deployed_flow(client: TestClient, caller: Caller, variables: dict[str, str]) -> tuple[str, str]:
    """(deployment, environment) of a two-node flow `a -> b` deployed to an environment of its own."""
    env_name = unique("env")
    env = client.post("/v1/environments", headers=caller.headers, json={"env_name": env_name})
    assert env.status_code == 201, env.text
    path = f"/v1/environments/{env_name}/variables"
    assert client.put(path, headers=caller.headers, json={"variables": variables}).status_code == 200
    flow = register_flow(
        client, caller, spec(python_node("a", NODE_A), python_node("b", NODE_B), edges=(("a", "b"),))
    )
    name = unique("dep")
    body = {"name": name, "flow_name": flow, "environment": env_name}
    deployed = client.post("/v1/deployments", headers=caller.headers, json=body)
    assert deployed.status_code in (200, 201), deployed.text
    return name, env_name


def test_a_retried_run_resumes_after_the_nodes_that_completed(
    running: tuple[FastAPI, TestClient],
) -> None:
    app, client = running
    owner = new_org(app, client)
    deployment, env = deployed_flow(client, owner, {"B_BROKEN": "yes"})
    made = client.post(
        "/v1/runs", headers=owner.headers, json={"deployment": deployment, "parameters": {"rows": 21}}
    )
    run_id = made.json()["run_id"]
    failed = wait_for_run(client, owner, run_id)
    assert failed["status"] == "failed" and "b is broken" in failed["error"]["message"]
    fixed = client.patch(
        f"/v1/environments/{env}/variables", headers=owner.headers, json={"variables": {"B_BROKEN": "no"}}
    )
    assert fixed.status_code == 200, fixed.text

    retried = retry(client, owner, run_id)

    assert retried.status_code == 202, retried.text
    assert retried.json() == {"run_id": run_id, "status": "queued", "attempt": 1, "retry_count": 1}
    done = wait_for_run(client, owner, run_id)
    assert (done["status"], done["attempt"], done["retry_count"], done["error"]) == ("completed", 2, 1, None)
    lines = log_lines(client, owner, run_id)
    assert lines.count("node a ran") == 1  # attempt 2 reused a's output
    assert any(
        line.startswith("[INFO] Retry requested by ") and "after the run was failed" in line for line in lines
    )
    tasks = client.get(f"/v1/runs/{run_id}/tasks", headers=owner.headers).json()["items"]
    summary = [(t["node_id"], t["attempt"], t["status"], t["output"]) for t in tasks]
    assert ("b", 1, "failed", None) in summary
    assert ("a", 2, "completed", {"rows": 21}) in summary and ("b", 2, "completed", {"total": 42}) in summary
    resumed = next(t for t in tasks if (t["node_id"], t["attempt"]) == ("a", 2))
    assert resumed["started_at"] is None  # reported from attempt 1's output, not run again

    again = retry(client, owner, run_id)
    assert again.status_code == 409
    assert again.json() == {
        "error": "conflict",
        "message": "A completed run cannot be retried; only a failed or cancelled run can.",
        "details": {"status": "completed"},
    }
    audit = client.get(f"/v1/audit-logs/resource/run/{run_id}", headers=owner.headers).json()["items"]
    retries = [row for row in audit if row["changes"].get("status") == ["failed", "queued"]]
    assert len(retries) == 1 and retries[0]["action"] == "execute"
    assert retries[0]["changes"]["retry_count"] == [0, 1]


@pytest.mark.settings("own_pool_settings")
def test_only_a_failed_or_cancelled_run_is_retried(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = register_flow(
        client, owner, spec(python_node("a", OK), python_node("b", OK)), default_executor=pool
    )
    pending = trigger(client, owner, flow, execute=False)["run_id"]
    run_id = trigger(client, owner, flow)["run_id"]
    for refused_id, status in [(pending, "pending"), (run_id, "queued")]:
        refused = retry(client, owner, refused_id)
        assert refused.status_code == 409, refused.text
        assert refused.json()["details"] == {"status": status}
    [claimed] = claim_runs(client, worker_headers(settings), pool, worker_id="w1")
    assert retry(client, owner, run_id).json()["details"] == {"status": "running"}
    ids = {"worker_id": "w1", "attempt": 1}
    node_a = {"node_id": "a", "node_type": "python_function", "status": "completed", "output": {"v": 1}}
    assert worker_post(client, settings, run_id, "nodes", ids | {"node_runs": [node_a]}).status_code == 200
    assert worker_post(client, settings, run_id, "complete", ids | FAILED).json()["status"] == "failed"

    assert retry(client, owner, run_id).status_code == 202
    run = get_run(client, owner, run_id)
    assert (run["status"], run["error"], run["started_at"], run["completed_at"]) == (
        "queued",
        None,
        None,
        None,
    )
    late = worker_post(client, settings, run_id, "logs", ids | {"lines": []})
    assert late.status_code == 409  # attempt 1's worker lost the run to the retry
    [second] = claim_runs(client, worker_headers(settings), pool, worker_id="w2")
    assert (second["attempt"], second["completed_nodes"]) == (2, {"a": {"v": 1}})
    assert claimed["attempt"] == 1


@pytest.mark.settings("own_pool_settings")
def test_a_cancelled_run_is_retried_with_its_cancellation_undone(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    never_started = trigger(client, owner, flow)["run_id"]
    assert client.post(f"/v1/runs/{never_started}/cancel", headers=owner.headers).status_code == 200
    retried = retry(client, owner, never_started).json()
    # No attempt was spent: the run goes back without using a retry.
    assert retried == {"run_id": never_started, "status": "queued", "attempt": 0, "retry_count": 0}

    started = trigger(client, owner, flow)["run_id"]
    claim_runs(client, worker_headers(settings), pool, worker_id="w1", capacity=2)
    assert client.post(f"/v1/runs/{started}/cancel", headers=owner.headers).status_code == 200
    assert retry(client, owner, started).json()["retry_count"] == 1
    run = get_run(client, owner, started)
    assert (run["status"], run["worker_id"], run["completed_at"]) == ("queued", None, None)
    heartbeat = worker_post(client, settings, started, "heartbeat", {"worker_id": "w1", "attempt": 1})
    assert heartbeat.status_code == 409  # the cancelled attempt's worker stops; it does not run on
    [again] = claim_runs(client, worker_headers(settings), pool, worker_id="w2", capacity=2)
    assert again["run_id"] == started and again["attempt"] == 2
    beat = worker_post(client, settings, started, "heartbeat", {"worker_id": "w2", "attempt": 2})
    assert beat.status_code == 200 and beat.json()["cancel_requested"] is False


def test_a_rerun_is_a_new_run_of_the_same_version_with_overridden_parameters(
    running: tuple[FastAPI, TestClient],
) -> None:
    app, client = running
    owner = new_org(app, client)
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    original = trigger(
        client, owner, flow, parameters={"x": 1, "y": 2}, tags=["nightly"], priority=5, execution_mode="micro"
    )["run_id"]
    assert wait_for_run(client, owner, original)["status"] == "completed"
    register_flow(
        client, owner, spec(python_node("only", "def main(inputs, params):\n    return 0\n")), flow_name=flow
    )

    made = rerun(client, owner, original, parameters={"y": 3, "z": [4]})

    assert made.status_code == 202, made.text
    body = made.json()
    assert body["run_id"] != original and body["parameters"] == {"x": 1, "y": 3, "z": [4]}
    assert (body["flow_name"], body["flow_version"], body["status"]) == (flow, "1", "queued")
    done = wait_for_run(client, owner, body["run_id"])
    assert done["status"] == "completed" and done["output"] == {"x": 1, "y": 3, "z": [4]}
    assert done["tags"] == ["nightly", f"rerun_of:{original}"]
    assert (done["execution_mode"], done["trigger"], done["attempt"]) == ("micro", "manual", 1)
    assert get_run(client, owner, original)["status"] == "completed"  # the original is untouched

    again = rerun(client, owner, body["run_id"])  # a rerun of a rerun names the run it came from
    assert again.status_code == 202 and again.json()["parameters"] == {"x": 1, "y": 3, "z": [4]}
    assert get_run(client, owner, again.json()["run_id"])["tags"] == ["nightly", f"rerun_of:{body['run_id']}"]


def test_a_rerun_keeps_its_originals_deployment_and_checks_its_body(
    client: TestClient, owner: Caller
) -> None:
    deployment, _ = deployed_flow(client, owner, {})
    made = client.post(
        "/v1/runs", headers=owner.headers, json={"deployment": deployment, "parameters": {"rows": 1}}
    )
    original = made.json()["run_id"]
    assert client.post(f"/v1/runs/{original}/cancel", headers=owner.headers).status_code == 200
    copy = rerun(client, owner, original)
    assert copy.status_code == 202
    run = get_run(client, owner, copy.json()["run_id"])
    assert (run["deployment_name"], run["parameters"], run["status"]) == (deployment, {"rows": 1}, "queued")
    audit = client.get(f"/v1/audit-logs/resource/run/{run['run_id']}", headers=owner.headers).json()["items"]
    assert [row["action"] for row in audit] == ["execute"]

    unknown = rerun(client, owner, original, parameters={}, flow_version=2)
    assert unknown.status_code == 400 and "flow_version" in unknown.json()["details"]
    not_object = rerun(client, owner, original, parameters=[1])
    assert not_object.status_code == 400 and "parameters" in not_object.json()["details"]


def test_another_orgs_run_is_404_and_a_viewer_is_403(app: FastAPI, client: TestClient, owner: Caller) -> None:
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    run_id = trigger(client, owner, flow)["run_id"]
    stranger = new_org(app, client)
    for path in ("retry", "rerun"):
        response = client.post(f"/v1/runs/{run_id}/{path}", headers=stranger.headers, json={})
        assert response.status_code == 404 and response.json()["error"] == "not_found"
        unknown = client.post(f"/v1/runs/{unique('run')}/{path}", headers=owner.headers, json={})
        assert unknown.status_code == 404
    viewer = add_member(app, client, owner, Role.VIEWER)
    for path in ("retry", "rerun"):
        response = client.post(f"/v1/runs/{run_id}/{path}", headers=viewer.headers, json={})
        assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert get_run(client, owner, run_id)["status"] == "queued"


def test_a_retry_waits_for_a_free_concurrent_slot_but_is_no_new_run(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client, plan="free")
    with app.state.db.transaction(write=True) as session:
        billing.set_quota_overrides(
            session, actor=SYSTEM_ACTOR, org_id=owner.org_id, overrides={"concurrent_runs": 1}
        )
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    first = trigger(client, owner, flow)["run_id"]
    assert client.post(f"/v1/runs/{first}/cancel", headers=owner.headers).status_code == 200
    second = trigger(client, owner, flow)["run_id"]

    refused = retry(client, owner, first)

    assert refused.status_code == 429, refused.text
    assert refused.json()["message"] == "Concurrent run limit reached"
    assert (refused.json()["limit"], refused.json()["current_usage"]) == (1, 1)
    assert get_run(client, owner, first)["status"] == "cancelled"
    assert client.post(f"/v1/runs/{second}/cancel", headers=owner.headers).status_code == 200
    assert retry(client, owner, first).status_code == 202
    quota = client.get("/v1/usage/quota", headers=owner.headers).json()
    assert quota["current_usage"]["monthly_runs"] == 2  # two runs created; the retry is none
