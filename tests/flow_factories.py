"""Flows and runs for tests, made through the HTTP API like a user would."""

from __future__ import annotations

import os
import re
import time
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.app import create_app
from dagy.server.background import background_parts
from dagy.server.settings import Settings
from tests.factories import Caller, unique

TERMINAL = ("completed", "failed", "cancelled")


def python_node(node_id: str, code: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "python_function", "data": {"code": code, **data}}


def spec(*nodes: dict[str, Any], edges: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    return {"nodes": list(nodes), "edges": [{"source": s, "target": t} for s, t in edges]}


def register_flow(client: TestClient, caller: Caller, flow_spec: dict[str, Any], **extra: Any) -> str:
    name = extra.pop("flow_name", None) or unique("flow")
    response = client.post(
        "/v1/flows", headers=caller.headers, json={"flow_name": name, "flow_spec": flow_spec, **extra}
    )
    assert response.status_code == 201, response.text
    return name


def trigger(client: TestClient, caller: Caller, flow_name: str, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/runs", headers=caller.headers, json={"flow_name": flow_name, **body})
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


def wait_for_run(
    client: TestClient, caller: Caller, run_id: str, statuses: tuple[str, ...] = TERMINAL, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = client.get(f"/v1/runs/{run_id}", headers=caller.headers).json()
        if run["status"] in statuses or time.monotonic() > deadline:
            assert run["status"] in statuses, run
            return run
        time.sleep(0.05)


def wait_for_log(
    client: TestClient, caller: Caller, run_id: str, text: str, timeout: float = 20
) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        events = client.get(f"/v1/runs/{run_id}/logs", headers=caller.headers).json()["events"]
        messages = [e["message"] for e in events]
        if any(text in m for m in messages):
            return messages
        assert time.monotonic() < deadline, f"{text!r} never logged; got {messages}"
        time.sleep(0.1)


def app_with_embedded_worker(settings: Settings) -> FastAPI:
    """The app as `dagy server` runs it: reaper and embedded worker as background parts; the worker
    speaks the HTTP protocol to the app in-process."""
    return create_app(
        settings,
        migrate=False,
        background=background_parts(settings, worker=True, services=True, in_process_worker=True),
    )


def worker_headers(settings: Settings) -> dict[str, str]:
    """The installation worker token, which serves every org."""
    assert settings.worker_token is not None
    return {"Authorization": f"Bearer {settings.worker_token.get_secret_value()}"}


def claim_runs(
    client: TestClient,
    headers: dict[str, str],
    executor: str,
    *,
    worker_id: str = "w1",
    wait: float = 0,
    capacity: int = 10,
) -> list[dict[str, Any]]:
    """`POST /workers/claim` as the worker whose credentials are `headers`."""
    body = {"worker_id": worker_id, "executor": executor, "capacity": capacity, "wait_seconds": wait}
    response = client.post("/v1/workers/claim", headers=headers, json=body)
    assert response.status_code == 200, response.text
    runs: list[dict[str, Any]] = response.json()["runs"]
    return runs


def worker_post(client: TestClient, settings: Settings, run_id: str, what: str, body: dict[str, Any]) -> Any:
    """`POST /workers/runs/{run_id}/{what}` (heartbeat, logs, nodes, complete, ...) as the worker
    holding the installation token."""
    return client.post(f"/v1/workers/runs/{run_id}/{what}", headers=worker_headers(settings), json=body)


def api_key(client: TestClient, caller: Caller, *scopes: str) -> dict[str, str]:
    """Headers carrying a new API key of the caller's org with `scopes`."""
    response = client.post(
        "/v1/api-keys", headers=caller.headers, json={"name": unique("key"), "scopes": list(scopes)}
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def run_alive(pid: int, uid: int) -> bool:
    """Whether anything of a run is still running (zombies are dead): a run that reported `pid` and
    `uid` from inside. An isolated run has a uid of its own, so its processes are found by it on
    the host (its pids are its PID namespace's); an unisolated run's pid is the host's."""
    import psutil

    def running(process: psutil.Process) -> bool:
        try:
            return process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    if uid != os.geteuid():
        return any(
            p.info["uids"] and p.info["uids"].real == uid and running(p)
            for p in psutil.process_iter(["uids"])
        )
    try:
        return running(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False


_STORY = re.compile(r"^\[(INFO|WARNING|ERROR)\] (Attempt \d+ |Starting task: |Task )")


def without_story(messages: list[str]) -> list[str]:
    """A run's log lines without those Dagy writes about its attempt and tasks: the run's own."""
    return [message for message in messages if not _STORY.match(message)]
