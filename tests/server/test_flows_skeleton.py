"""The walking skeleton: a flow registered over HTTP runs through the real queue on the embedded
worker (a real subprocess per run) and its output, logs and node runs come back over HTTP."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import add_member, new_org, unique
from tests.flow_factories import (
    python_node,
    register_flow,
    spec,
    trigger,
    wait_for_run,
    without_story,
)

ADD = """
def main(inputs, params):
    print("adding", params["a"], "and", params["b"])
    return {"sum": params["a"] + params["b"]}
"""


def test_a_flow_runs_end_to_end_on_the_embedded_worker(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner = new_org(app, client)
    flow = register_flow(client, owner, spec(python_node("add", ADD)))

    queued = trigger(client, owner, flow, parameters={"a": 2, "b": 3})
    assert queued["status"] == "queued"
    run = wait_for_run(client, owner, queued["run_id"])

    assert run["status"] == "completed", run
    assert run["output"] == {"sum": 5}
    assert run["error"] is None and run["retry_count"] == 0
    assert run["started_at"] and run["completed_at"] and run["duration_seconds"] >= 0
    logs = client.get(f"/v1/runs/{run['run_id']}/logs", headers=owner.headers).json()
    messages = [e["message"] for e in logs["events"]]
    assert without_story(messages) == ["adding 2 and 3"]
    assert messages[1:3] == ["[INFO] Starting task: add", "adding 2 and 3"]
    assert logs["next_token"] is None
    tasks = client.get(f"/v1/runs/{run['run_id']}/tasks", headers=owner.headers).json()["items"]
    assert [(t["node_id"], t["node_type"], t["status"], t["attempt"]) for t in tasks] == [
        ("add", "python_function", "completed", 1)
    ]
    assert tasks[0]["output"] == {"sum": 5}


def test_outputs_flow_along_edges_and_the_sink_is_the_output(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner = new_org(app, client)
    first = "def main(inputs, params):\n    return params['x'] * 10\n"
    second = "def run(inputs, params):\n    return inputs['first'] + 1\n"
    flow = register_flow(
        client,
        owner,
        spec(
            python_node("first", first),
            python_node("second", second, entrypoint="run"),
            edges=(("first", "second"),),
        ),
    )
    run = wait_for_run(client, owner, trigger(client, owner, flow, parameters={"x": 4})["run_id"])
    assert (run["status"], run["output"]) == ("completed", 41)


def test_register_flow_version(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    name = unique("flow")
    body = {
        "flow_name": name,
        "flow_spec": spec(python_node("a", ADD)),
        "namespace": "data/ingest",
        "tags": {"team": "data"},
        "default_executor": "local",
    }
    first = client.post("/v1/flows", headers=owner.headers, json=body)
    assert first.status_code == 201, first.text
    assert first.json() | {"created_at": None} == {
        "flow_name": name,
        "flow_version": "1",
        "namespace": "data/ingest",
        "tags": {"team": "data"},
        "created_at": None,
        "status": "active",
        "warnings": [],
    }
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", first.json()["created_at"])
    second = client.post("/v1/flows", headers=owner.headers, json=body)
    assert second.json()["flow_version"] == "2"
    named = client.post("/v1/flows", headers=owner.headers, json=body | {"flow_version": "1.0.0"})
    assert named.json()["flow_version"] == "1.0.0"
    again = client.post("/v1/flows", headers=owner.headers, json=body | {"flow_version": "1.0.0"})
    assert again.status_code == 409 and again.json()["error"] == "conflict"

    latest = client.get(f"/v1/flows/{name}/latest", headers=owner.headers).json()
    assert latest["flow_version"] == "1.0.0" and latest["deployment_version"] == 3
    assert len(latest["code_hash"]) == 64 and latest["flow_spec"] == body["flow_spec"]


def test_the_name_may_come_from_the_spec(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    name = unique("named")
    response = client.post(
        "/v1/flows", headers=owner.headers, json={"flow_spec": {**spec(python_node("a", ADD)), "name": name}}
    )
    assert response.status_code == 201 and response.json()["flow_name"] == name
    nameless = client.post(
        "/v1/flows", headers=owner.headers, json={"flow_spec": spec(python_node("a", ADD))}
    )
    assert nameless.status_code == 400 and "flow_name" in nameless.json()["details"]


def test_every_problem_of_a_spec_is_listed(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    bad = {
        "nodes": [
            python_node("a", ADD),
            python_node("a", ADD),
            {"id": "b", "type": "teleport", "data": {}},
            {"id": "c", "type": "python_function", "data": {"entrypoint": "not an identifier"}},
            python_node("d", "def main(:\n"),
            python_node("e", "x" * (256 * 1024 + 1)),
        ],
        "edges": [{"source": "a", "target": "ghost"}],
    }
    response = client.post(
        "/v1/flows", headers=owner.headers, json={"flow_name": unique("f"), "flow_spec": bad}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_input"
    assert body["details"] == {
        "flow_spec.nodes[1].id": "duplicate node id 'a'",
        "flow_spec.nodes[2].type": "unknown node type 'teleport'; see GET /v1/nodes/registry",
        "flow_spec.nodes[3].data.code": "required: the function's Python source",
        "flow_spec.nodes[3].data.entrypoint": "must be a Python identifier",
        "flow_spec.nodes[4].data.code": "syntax error on line 1: invalid syntax",
        "flow_spec.nodes[5].data.code": "at most 262144 bytes",
        "flow_spec.edges[0].target": "no node with id 'ghost'",
    }


def test_cycles_and_empty_specs_are_refused(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    cyclic = spec(python_node("a", ADD), python_node("b", ADD), edges=(("a", "b"), ("b", "a")))
    response = client.post(
        "/v1/flows", headers=owner.headers, json={"flow_name": unique("f"), "flow_spec": cyclic}
    )
    assert response.status_code == 400
    assert response.json()["details"] == {"flow_spec.edges": "the graph has a cycle through a, b"}
    empty = client.post(
        "/v1/flows", headers=owner.headers, json={"flow_name": unique("f"), "flow_spec": {"nodes": []}}
    )
    assert empty.status_code == 400 and "flow_spec.nodes" in empty.json()["details"]


def test_registering_needs_flows_write(client: TestClient, app: FastAPI) -> None:
    owner = new_org(app, client)
    viewer = add_member(app, client, owner, "viewer")
    body = {"flow_name": unique("f"), "flow_spec": spec(python_node("a", ADD))}
    assert client.post("/v1/flows", json=body).status_code == 401
    denied = client.post("/v1/flows", headers=viewer.headers, json=body)
    assert denied.status_code == 403 and denied.json()["error"] == "forbidden"
    unknown = client.post("/v1/flows", headers=owner.headers, json=body | {"colour": "red"})
    assert unknown.status_code == 400 and "colour" in unknown.json()["details"]
