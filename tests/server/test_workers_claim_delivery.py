"""A claim's answer that cannot reach its worker: the worker's connection closed while the server
was handing it a run. The run goes back to the queue at once and keeps its retries."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.settings import Settings
from tests.factories import Caller
from tests.flow_factories import claim_runs, python_node, register_flow, spec, trigger, worker_headers

OK = "def main(inputs, params):\n    return params\n"

pytestmark = pytest.mark.settings("own_pool_settings")


async def claim_from_a_vanishing_worker(app: FastAPI, headers: dict[str, str], body: dict[str, Any]) -> int:
    """`POST /v1/workers/claim` over raw ASGI from a client whose connection is still open when the
    server looks before claiming, and closed when it looks again once the claim is made."""
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        if received == 1:
            return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}
        if received == 2:  # the look before the claim: nothing to read yet, the client is there
            await anyio.sleep_forever()
        return {"type": "http.disconnect"}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/workers/claim",
        "raw_path": b"/v1/workers/claim",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return statuses[0]


def test_a_run_claimed_for_a_worker_that_went_away_goes_back_at_once(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    run_id = trigger(client, owner, flow, max_retries=0)["run_id"]
    body = {"worker_id": "gone", "executor": pool, "capacity": 1, "wait_seconds": 0}
    assert client.portal is not None
    client.portal.call(claim_from_a_vanishing_worker, app, worker_headers(settings), body)

    run = client.get(f"/v1/runs/{run_id}", headers=owner.headers).json()
    assert (run["status"], run["retry_count"], run["error"]["type"]) == ("queued", 0, "claim_not_delivered")
    logs = client.get(f"/v1/runs/{run_id}/logs", headers=owner.headers).json()["events"]
    assert [line["message"] for line in logs] == [
        "[WARNING] Attempt 1 never reached worker gone; the run goes back to the queue for attempt 2 "
        "(no retry used)"
    ]
    [again] = claim_runs(client, worker_headers(settings), pool, worker_id="w2")
    assert (again["run_id"], again["attempt"]) == (run_id, 2)
