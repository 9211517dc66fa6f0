"""Node types described before their engine exists: a run that reaches one fails plainly, naming
the node, after the nodes before it have run."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import new_org
from tests.flow_factories import python_node, register_flow, spec, trigger, wait_for_run

FIRST = "def main(inputs, params):\n    return {'rows': 3}\n"


@pytest.mark.parametrize(
    ("node", "node_type"),
    [
        ({"id": "wait", "type": "delay", "data": {"seconds": 1}}, "delay"),
        (
            {
                "id": "tell",
                "type": "slack_notify",
                "data": {"webhook_url": {"secret": "slack-hook"}, "message": "done: {input}"},
            },
            "slack_notify",
        ),
    ],
)
def test_a_run_reaching_a_node_it_cannot_execute_fails_naming_it(
    running: tuple[FastAPI, TestClient], node: dict[str, Any], node_type: str
) -> None:
    app, client = running
    owner = new_org(app, client)
    flow = register_flow(
        client, owner, spec(python_node("first", FIRST), node, edges=(("first", node["id"]),))
    )
    run = wait_for_run(client, owner, trigger(client, owner, flow)["run_id"])
    assert run["status"] == "failed"
    error = run["error"]
    assert (error["type"], error["node_id"], error["node_type"]) == (
        "node_not_executable",
        node["id"],
        node_type,
    )
    assert node["id"] in error["message"] and node_type in error["message"]
    tasks = client.get(f"/v1/runs/{run['run_id']}/tasks", headers=owner.headers).json()["items"]
    assert sorted((t["node_id"], t["status"]) for t in tasks) == sorted(
        [("first", "completed"), (node["id"], "failed")]
    )
