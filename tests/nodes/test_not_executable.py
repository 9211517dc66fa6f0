"""A node type no worker can execute (an org's custom type is a definition only): a run that
reaches one fails plainly, naming the node, after the nodes before it have run."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import new_org, unique
from tests.flow_factories import python_node, register_flow, spec, trigger, wait_for_run

FIRST = "def main(inputs, params):\n    return {'rows': 3}\n"


def test_a_run_reaching_a_node_it_cannot_execute_fails_naming_it(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner = new_org(app, client)
    node_type = unique("enricher").replace("-", "_")
    definition = {
        "node_type": node_type,
        "label": "Enricher",
        "description": "Described by the org, run by nobody.",
        "category": "transform",
        "icon": "Sparkles",
        "color": "violet",
        "connectors": [
            {"id": "data_in", "name": "Input", "direction": "inbound", "data_types": ["json"]},
            {"id": "data_out", "name": "Output", "direction": "outbound", "data_types": ["json"]},
        ],
        "config_schema": [],
    }
    registered = client.post("/v1/nodes/registry", headers=owner.headers, json=definition)
    assert registered.status_code == 201, registered.text
    node = {"id": "enrich", "type": node_type, "data": {}}
    flow = register_flow(client, owner, spec(python_node("first", FIRST), node, edges=(("first", "enrich"),)))
    run = wait_for_run(client, owner, trigger(client, owner, flow)["run_id"])
    assert run["status"] == "failed"
    error = run["error"]
    assert (error["type"], error["node_id"], error["node_type"]) == ("unknown_node_type", "enrich", node_type)
    assert node_type in error["message"]
    tasks = client.get(f"/v1/runs/{run['run_id']}/tasks", headers=owner.headers).json()["items"]
    assert sorted((t["node_id"], t["status"]) for t in tasks) == [
        ("enrich", "failed"),
        ("first", "completed"),
    ]
