"""Polling sensors against a local HTTP server: the first answer is the baseline, a changed answer
fires, an unchanged one does not; a JSONPath condition; headers from secrets; the SSRF guard at
every check; failures; and `POST /sensors/{id}/test`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.db.base import utcnow
from dagy.server.services.sensors import SensorLoop
from dagy.server.settings import Settings
from tests.factories import Caller, unique
from tests.flow_factories import python_node, register_flow, spec
from tests.nodes.conftest import HttpPeer
from tests.ports import free_port

ECHO = "def main(inputs, params):\n    return params\n"

# The peer listens on loopback, which the SSRF guard refuses unless told otherwise.
pytestmark = pytest.mark.settings(allow_private_network=True)


@pytest.fixture
def peer() -> Iterator[HttpPeer]:
    server = HttpPeer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = utcnow() + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def next_check(self) -> None:
        self.now += timedelta(seconds=31)


def create_sensor(client: TestClient, caller: Caller, config: dict[str, Any]) -> dict[str, Any]:
    flow = register_flow(client, caller, spec(python_node("only", ECHO)))
    body = {"name": unique("poll"), "sensor_type": "polling", "flow_name": flow, "config_json": config}
    response = client.post("/v1/sensors", headers=caller.headers, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def events(client: TestClient, caller: Caller, sensor_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/sensors/{sensor_id}/events", headers=caller.headers, params={"limit": 100})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))


def fired_events(client: TestClient, caller: Caller, sensor_id: str) -> list[dict[str, Any]]:
    """The `event` parameter of each run the sensor started."""
    found = []
    for event in events(client, caller, sensor_id):
        if event["outcome"] == "fired":
            run = client.get(f"/v1/runs/{event['run_id']}", headers=caller.headers).json()
            found.append(run["parameters"]["event"])
    return found


def test_a_changed_answer_fires_and_an_unchanged_one_does_not(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, peer: HttpPeer
) -> None:
    peer.json("/status", {"state": "running"})
    sensor = create_sensor(client, owner, {"url": f"{peer.url}/status", "interval_seconds": 30})
    clock = Clock()
    loop = SensorLoop(app.state.db, settings, clock=clock)
    assert loop.tick() == 0  # the baseline
    assert len(peer.requests) == 1
    clock.next_check()
    assert loop.tick() == 0  # the same answer
    peer.json("/status", {"state": "done"})
    assert loop.tick() == 0  # not due: nobody asked
    assert len(peer.requests) == 2
    clock.next_check()
    assert loop.tick() == 1
    clock.next_check()
    assert SensorLoop(app.state.db, settings, clock=clock).tick() == 0  # a restart does not re-fire
    [event] = fired_events(client, owner, sensor["sensor_id"])
    assert event["body"] == {"state": "done"} and event["url"] == f"{peer.url}/status"
    assert event["previous_digest"] and event["digest"] != event["previous_digest"]
    assert event["status_code"] == 200


def test_headers_with_secret_references_reach_the_url(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, peer: HttpPeer
) -> None:
    body = {"secret_name": "status-token", "value": "Bearer s3cret"}
    assert client.post("/v1/secrets", headers=owner.headers, json=body).status_code == 201
    peer.json("/status", {"ok": True})
    config = {
        "url": f"{peer.url}/status",
        "headers": {"Authorization": {"secret": "status-token"}, "X-Team": "data"},
    }
    sensor = create_sensor(client, owner, config)
    SensorLoop(app.state.db, settings, clock=Clock()).tick()
    headers = {k.lower(): v for k, v in peer.requests[-1]["headers"].items()}
    assert headers["authorization"] == "Bearer s3cret" and headers["x-team"] == "data"
    read = client.get(f"/v1/sensors/{sensor['sensor_id']}", headers=owner.headers).json()
    assert "s3cret" not in str(read)


def test_a_condition_fires_when_it_holds_on_a_new_answer(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, peer: HttpPeer
) -> None:
    peer.json("/job", {"job": {"state": "running"}})
    condition = {"jsonpath": "$.job.state", "equals": "done"}
    sensor = create_sensor(client, owner, {"url": f"{peer.url}/job", "condition": condition})
    clock = Clock()
    loop = SensorLoop(app.state.db, settings, clock=clock)
    assert loop.tick() == 0
    peer.json("/job", {"job": {"state": "paused"}})
    clock.next_check()
    clock.next_check()
    assert loop.tick() == 0  # changed, but the condition does not hold
    peer.json("/job", {"job": {"state": "done"}})
    clock.next_check()
    clock.next_check()
    assert loop.tick() == 1
    clock.next_check()
    clock.next_check()
    assert loop.tick() == 0  # still done: the same answer fires once
    assert [e["body"] for e in fired_events(client, owner, sensor["sensor_id"])] == [
        {"job": {"state": "done"}}
    ]


def test_a_condition_that_holds_at_the_first_check_fires(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, peer: HttpPeer
) -> None:
    peer.json("/ready", {"items": [{"ready": False}, {"ready": True}]})
    condition = {"jsonpath": "$.items[?ready == true]"}
    sensor = create_sensor(client, owner, {"url": f"{peer.url}/ready", "condition": condition})
    assert SensorLoop(app.state.db, settings, clock=Clock()).tick() == 1
    assert len(fired_events(client, owner, sensor["sensor_id"])) == 1


def test_an_error_answer_is_a_failed_event_and_the_baseline_stays(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, peer: HttpPeer
) -> None:
    peer.json("/flaky", {"v": 1})
    sensor = create_sensor(client, owner, {"url": f"{peer.url}/flaky"})
    clock = Clock()
    loop = SensorLoop(app.state.db, settings, clock=clock)
    loop.tick()
    peer.json("/flaky", {"error": "down"}, status=503)
    clock.next_check()
    clock.next_check()
    assert loop.tick() == 0
    [failed] = events(client, owner, sensor["sensor_id"])
    assert failed["outcome"] == "failed" and "HTTP 503" in failed["detail"]["error"]
    peer.json("/flaky", {"v": 1})
    clock.next_check()
    clock.next_check()
    assert loop.tick() == 0  # back to the baseline: no change, no fire


def test_the_ssrf_guard_is_applied_at_every_check(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, peer: HttpPeer
) -> None:
    """A URL accepted when the sensor was created is refused when it leads to a private address."""
    peer.json("/status", {"ok": True})
    sensor = create_sensor(client, owner, {"url": f"{peer.url}/status"})
    guarded = settings.model_copy(update={"allow_private_network": False})
    SensorLoop(app.state.db, guarded, clock=Clock()).tick()
    [failed] = events(client, owner, sensor["sensor_id"])
    assert "SSRF guard" in failed["detail"]["error"]
    assert peer.requests == []


def test_test_endpoint_polls_then_fires(client: TestClient, owner: Caller, peer: HttpPeer) -> None:
    peer.json("/status", {"ok": True})
    sensor = create_sensor(client, owner, {"url": f"{peer.url}/status"})
    response = client.post(f"/v1/sensors/{sensor['sensor_id']}/test", headers=owner.headers)
    assert response.status_code == 200, response.text
    run = client.get(f"/v1/runs/{response.json()['run_id']}", headers=owner.headers).json()
    assert run["parameters"]["event"]["test"] is True and run["parameters"]["event"]["status_code"] == 200


def test_test_endpoint_with_an_unreachable_url_is_400(client: TestClient, owner: Caller) -> None:
    port = free_port()  # a port nothing listens on
    sensor = create_sensor(client, owner, {"url": f"http://127.0.0.1:{port}/status"})
    response = client.post(f"/v1/sensors/{sensor['sensor_id']}/test", headers=owner.headers)
    assert response.status_code == 400
    assert "ConnectError" in response.json()["message"]
    assert [e["outcome"] for e in events(client, owner, sensor["sensor_id"])] == ["failed"]
