"""An org's custom node types at run time: the worker imports the class named by the type's
`import_path`; a type without one (a definition only) fails plainly, naming the node, after the
nodes before it have run."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import new_org, unique
from tests.flow_factories import python_node, register_flow, spec, trigger, wait_for_run

FIRST = "def main(inputs, params):\n    return {'rows': 3}\n"


def _custom_type(import_path: str | None = None) -> dict[str, Any]:
    node_type = unique("enricher").replace("-", "_")
    return {
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
        **({"import_path": import_path} if import_path else {}),
    }


def test_a_custom_node_type_runs_the_class_its_import_path_names(running: tuple[FastAPI, TestClient]) -> None:
    """The class is one the worker's Python environment has (here one shipped with Dagy, as a
    package an org installs on its workers would be)."""
    app, client = running
    owner = new_org(app, client)
    definition = _custom_type("dagy.nodes.transform:DeduplicatorNode")
    registered = client.post("/v1/nodes/registry", headers=owner.headers, json=definition)
    assert registered.status_code == 201, registered.text
    rows = "def main(inputs, params):\n    return [{'k': 1}, {'k': 1}, {'k': 2}]\n"
    node = {"id": "enrich", "type": definition["node_type"], "data": {"key_fields": ["k"]}}
    flow = register_flow(client, owner, spec(python_node("first", rows), node, edges=(("first", "enrich"),)))
    run = wait_for_run(client, owner, trigger(client, owner, flow)["run_id"])
    assert (run["status"], run["output"]) == ("completed", [{"k": 1}, {"k": 2}]), run


def test_a_custom_node_type_whose_class_cannot_be_imported_fails_naming_it(
    running: tuple[FastAPI, TestClient],
) -> None:
    app, client = running
    owner = new_org(app, client)
    definition = _custom_type("my_org_nodes.enricher:Enricher")
    assert client.post("/v1/nodes/registry", headers=owner.headers, json=definition).status_code == 201
    node = {"id": "enrich", "type": definition["node_type"], "data": {}}
    flow = register_flow(client, owner, spec(node))
    run = wait_for_run(client, owner, trigger(client, owner, flow)["run_id"])
    assert (run["status"], run["error"]["type"], run["error"]["node_id"]) == (
        "failed",
        "custom_node_unavailable",
        "enrich",
    )
    assert "my_org_nodes.enricher:Enricher" in run["error"]["message"]


def test_a_run_reaching_a_node_it_cannot_execute_fails_naming_it(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner = new_org(app, client)
    definition = _custom_type()
    node_type = definition["node_type"]
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
