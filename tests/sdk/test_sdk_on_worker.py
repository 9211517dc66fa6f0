"""A code flow end to end: a zip of `@flow`/`@task` code in the object store, registered with
`POST /v1/flows`, triggered with `POST /v1/runs`, run by the embedded worker; its output, log and
task runs read back through the API."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.settings import Settings
from tests.factories import Caller, new_org, unique
from tests.flow_factories import trigger, wait_for_run
from tests.sdk.artifacts import etl_artifact, write_zip


def _register_code_flow(client: TestClient, settings: Settings, owner: Caller) -> str:
    name = unique("etl")
    key = f"dagy/flows/{owner.org_id}/{name}/etl-1.zip"
    write_zip(settings.home / "objects" / key, etl_artifact("shop"))
    response = client.post(
        "/v1/flows",
        headers=owner.headers,
        json={"flow_name": name, "artifact_s3_uri": key, "flow_spec": {"entrypoint": "shop.etl:main"}},
    )
    assert response.status_code == 201, response.text
    return name


@pytest.mark.slow
def test_a_code_flow_runs_on_the_worker_with_its_tasks_as_node_runs(
    running: tuple[FastAPI, TestClient], settings: Settings
) -> None:
    app, client = running
    owner = new_org(app, client)
    name = _register_code_flow(client, settings, owner)

    run = wait_for_run(
        client, owner, trigger(client, owner, name, parameters={"day": "2026-11-28"})["run_id"]
    )
    assert run["status"] == "completed", run
    assert run["output"] == {"day": "2026-11-28", "total": 17.0}

    messages = [
        e["message"]
        for e in client.get(f"/v1/runs/{run['run_id']}/logs", headers=owner.headers).json()["events"]
    ]
    assert any("[extract-1] extracting 2026-11-28" in m for m in messages), messages
    assert any("[etl] loaded 17.0" in m for m in messages), messages

    rows = client.get(f"/v1/runs/{run['run_id']}/tasks", headers=owner.headers).json()["items"]
    finished = {(row["node_id"], row["node_type"], row["status"]) for row in rows}
    assert finished == {
        ("extract-1", "task", "completed"),
        ("price-1", "task", "completed"),
        ("price-2", "task", "completed"),
        ("load-1", "task", "completed"),
    }
    outputs = {row["node_id"]: row["output"] for row in rows}
    assert outputs["price-1"] in (7.0, 10.0) and outputs["load-1"] == {"total": 17.0}


@pytest.mark.slow
def test_a_failing_task_fails_the_run_on_the_worker(
    running: tuple[FastAPI, TestClient], settings: Settings
) -> None:
    app, client = running
    owner = new_org(app, client)
    name = _register_code_flow(client, settings, owner)

    run_id = trigger(client, owner, name, parameters={"day": "d", "fail": True})["run_id"]
    run = wait_for_run(client, owner, run_id)
    assert run["status"] == "failed"
    assert (run["error"]["type"], run["error"]["node_id"]) == ("exception", "explode-1")
    assert run["error"]["message"] == "ValueError: refusing 17.0"
    assert "in explode" in run["error"]["traceback"]

    # Parameters the flow function does not take are refused at trigger (its type hints are read at
    # registration); the run process's own check (tests/sdk/test_code_flow.py) is never reached.
    body = {"flow_name": name, "parameters": {"day": "d", "region": "eu"}}
    bad = client.post("/v1/runs", headers=owner.headers, json=body)
    assert bad.status_code == 400, bad.text
    assert bad.json()["details"] == {"parameters.region": "the flow takes no parameter region"}
