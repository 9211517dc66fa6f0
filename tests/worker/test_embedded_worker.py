"""The embedded worker of `dagy server` (same worker code, in-process HTTP): cancellation stops the
run's process, a crashing run process fails the run, and raw output of child processes is logged."""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import new_org
from tests.flow_factories import (
    python_node,
    register_flow,
    run_alive,
    spec,
    trigger,
    wait_for_log,
    wait_for_run,
    without_story,
)

SLEEPER = """
import os, time

def main(inputs, params):
    print(f"pid={os.getpid()} uid={os.getuid()}", flush=True)
    time.sleep(60)
"""


def test_cancelling_a_running_run_stops_its_process(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner = new_org(app, client)
    run_id = trigger(client, owner, register_flow(client, owner, spec(python_node("nap", SLEEPER))))["run_id"]
    messages = wait_for_log(client, owner, run_id, "pid=")
    pid, uid = (int(part.split("=")[1]) for part in next(m for m in messages if m.startswith("pid=")).split())
    assert run_alive(pid, uid)

    response = client.post(f"/v1/runs/{run_id}/cancel", headers=owner.headers)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    deadline = time.monotonic() + 10
    while run_alive(pid, uid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not run_alive(pid, uid), "the run's process survived its cancellation"
    run = client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()
    assert (run["status"], run["output"]) == ("cancelled", None)


def test_a_crashing_run_process_fails_the_run(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner = new_org(app, client)
    crash = "import os\n\ndef main(inputs, params):\n    print('going down', flush=True)\n    os._exit(3)\n"
    run = wait_for_run(
        client,
        owner,
        trigger(client, owner, register_flow(client, owner, spec(python_node("c", crash))))["run_id"],
    )
    assert run["status"] == "failed"
    assert run["error"]["type"] == "crashed" and "code 3" in run["error"]["message"]
    messages = [
        e["message"]
        for e in client.get(f"/v1/runs/{run['run_id']}/logs", headers=owner.headers).json()["events"]
    ]
    assert "going down" in messages


def test_output_of_child_processes_is_logged(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner = new_org(app, client)
    shell = (
        "import subprocess, sys\n\ndef main(inputs, params):\n"
        "    subprocess.run(['echo', 'from a child'], check=True)\n"
        "    print('to stderr', file=sys.stderr)\n    return 'ok'\n"
    )
    run = wait_for_run(
        client,
        owner,
        trigger(client, owner, register_flow(client, owner, spec(python_node("s", shell))))["run_id"],
    )
    assert (run["status"], run["output"]) == ("completed", "ok")
    messages = [
        e["message"]
        for e in client.get(f"/v1/runs/{run['run_id']}/logs", headers=owner.headers).json()["events"]
    ]
    assert sorted(without_story(messages)) == ["from a child", "to stderr"]
