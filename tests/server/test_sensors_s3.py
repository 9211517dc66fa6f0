"""s3 sensors against moto's S3 server and against Dagy's local object store: one run per new
object, no re-fire after a restart, objects created while the loop was down fire, failures are
throttled `failed` events, and `POST /sensors/{id}/test` reads the bucket first."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.db.base import utcnow
from dagy.server.services.sensors import SensorLoop
from dagy.server.settings import Settings
from tests.factories import Caller, new_org, unique
from tests.flow_factories import python_node, register_flow, spec
from tests.nodes.conftest import S3Peer

ECHO = "def main(inputs, params):\n    return params\n"

# The S3 peer listens on loopback, which the SSRF guard refuses unless told otherwise.
pytestmark = [pytest.mark.settings(allow_private_network=True), pytest.mark.usefixtures("aws_secrets")]


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Peer]:
    """moto's S3 as a real HTTP server on a free loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield S3Peer(f"http://{host}:{port}")
    server.stop()


@pytest.fixture
def aws_secrets(client: TestClient, owner: Caller) -> None:
    """The secrets the S3 configs name (`aws-key-id`, `aws-secret`), in the owner's org."""
    for name in ("aws-key-id", "aws-secret"):
        body = {"secret_name": name, "value": "testing"}
        assert client.post("/v1/secrets", headers=owner.headers, json=body).status_code == 201


class Clock:
    def __init__(self) -> None:
        self.now = utcnow() + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def s3_config(s3: S3Peer, bucket: str, **extra: Any) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "prefix": "incoming/",
        "endpoint_url": s3.endpoint_url,
        "region": "us-east-1",
        "aws_access_key_id": {"secret": "aws-key-id"},
        "aws_secret_access_key": {"secret": "aws-secret"},
        "interval_seconds": 60,
    } | extra


def create_sensor(client: TestClient, caller: Caller, config: dict[str, Any], **body: Any) -> dict[str, Any]:
    flow = register_flow(client, caller, spec(python_node("only", ECHO)))
    response = client.post(
        "/v1/sensors",
        headers=caller.headers,
        json={"name": unique("s3"), "sensor_type": "s3", "flow_name": flow, "config_json": config, **body},
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def events(client: TestClient, caller: Caller, sensor_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/sensors/{sensor_id}/events", headers=caller.headers, params={"limit": 100})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))  # oldest first


def fired_keys(client: TestClient, caller: Caller, sensor_id: str) -> list[str]:
    """The object key of each run the sensor started, from the runs themselves."""
    keys = []
    for event in events(client, caller, sensor_id):
        if event["outcome"] == "fired":
            run = client.get(f"/v1/runs/{event['run_id']}", headers=caller.headers).json()
            keys.append(run["parameters"]["event"]["key"])
    return keys


def test_one_run_per_new_object_and_none_after_a_restart(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, s3: S3Peer
) -> None:
    bucket = s3.new_bucket()
    sensor = create_sensor(client, owner, s3_config(s3, bucket), flow_params_json={"env": "prod"})
    store = s3.client()
    store.put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"a,b\n1,2\n")
    store.put_object(Bucket=bucket, Key="incoming/b.csv", Body=b"x")
    store.put_object(Bucket=bucket, Key="incoming/folder/", Body=b"")  # a folder marker, not an object
    store.put_object(Bucket=bucket, Key="elsewhere/c.csv", Body=b"x")
    clock = Clock()
    loop = SensorLoop(app.state.db, settings, clock=clock)

    assert loop.tick() == 2
    assert sorted(fired_keys(client, owner, sensor["sensor_id"])) == ["incoming/a.csv", "incoming/b.csv"]
    first = events(client, owner, sensor["sensor_id"])[0]
    run = client.get(f"/v1/runs/{first['run_id']}", headers=owner.headers).json()
    assert run["parameters"]["env"] == "prod"
    assert run["parameters"]["event"] | {"key": None, "etag": None, "size": None, "last_modified": None} == {
        "event_type": "s3:ObjectCreated:*",
        "store": "s3",
        "bucket": bucket,
        "key": None,
        "size": None,
        "etag": None,
        "last_modified": None,
        "uri": f"s3://{bucket}/{run['parameters']['event']['key']}",
    }
    assert set(run["tags"]) >= {"sensor", "s3", f"sensor:{sensor['sensor_id']}"}

    assert loop.tick() == 0  # not due yet
    clock.advance(61)
    assert loop.tick() == 0  # due, nothing new

    store.put_object(Bucket=bucket, Key="incoming/c.csv", Body=b"made while the loop was down")
    restarted = SensorLoop(app.state.db, settings, clock=clock)
    clock.advance(61)
    assert restarted.tick() == 1
    clock.advance(61)
    assert restarted.tick() == 0
    keys = fired_keys(client, owner, sensor["sensor_id"])
    assert sorted(keys) == ["incoming/a.csv", "incoming/b.csv", "incoming/c.csv"]

    store.put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"a new version")
    clock.advance(61)
    assert restarted.tick() == 1  # a new upload under a key is a new object (S3's ObjectCreated)
    assert fired_keys(client, owner, sensor["sensor_id"]).count("incoming/a.csv") == 2
    runs = client.get("/v1/runs", headers=owner.headers, params={"flow_name": sensor["flow_name"]}).json()
    assert len(runs["items"]) == 4


def test_loops_ticking_at_once_fire_each_object_once(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, s3: S3Peer
) -> None:
    """Several servers' loops: a claimed sensor is skipped by the others (SKIP LOCKED on PostgreSQL,
    the writer lock on SQLite), and the event's unique dedup key stands behind it."""
    bucket = s3.new_bucket()
    sensor = create_sensor(client, owner, s3_config(s3, bucket))
    for n in range(5):
        s3.client().put_object(Bucket=bucket, Key=f"incoming/{n}.json", Body=b"{}")
    clock = Clock()
    loops = [SensorLoop(app.state.db, settings, clock=clock) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        fired = list(pool.map(lambda loop: loop.tick(), loops))
    assert sum(fired) == 5
    assert sorted(fired_keys(client, owner, sensor["sensor_id"])) == [f"incoming/{n}.json" for n in range(5)]


def test_include_existing_fires_for_objects_older_than_the_sensor(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, s3: S3Peer
) -> None:
    bucket = s3.new_bucket()
    s3.client().put_object(Bucket=bucket, Key="incoming/old.csv", Body=b"x")
    sensor = create_sensor(client, owner, s3_config(s3, bucket, include_existing=True))
    with app.state.db.transaction(write=True) as session:  # the sensor started watching long after
        from dagy.server.db.models import Sensor

        row = session.get(Sensor, sensor["sensor_id"])
        assert row is not None
        row.cursor = {"since": (utcnow() + timedelta(days=1)).isoformat()}
    assert SensorLoop(app.state.db, settings, clock=Clock()).tick() == 1
    assert fired_keys(client, owner, sensor["sensor_id"]) == ["incoming/old.csv"]


def test_objects_modified_before_the_sensor_started_watching_do_not_fire(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, s3: S3Peer
) -> None:
    bucket = s3.new_bucket()
    s3.client().put_object(Bucket=bucket, Key="incoming/old.csv", Body=b"x")
    sensor = create_sensor(client, owner, s3_config(s3, bucket))
    with app.state.db.transaction(write=True) as session:
        from dagy.server.db.models import Sensor

        row = session.get(Sensor, sensor["sensor_id"])
        assert row is not None
        row.cursor = {"since": (utcnow() + timedelta(seconds=2)).replace(microsecond=0).isoformat()}
    clock = Clock()
    clock.advance(5)
    assert SensorLoop(app.state.db, settings, clock=clock).tick() == 0
    assert events(client, owner, sensor["sensor_id"]) == []


def test_an_unreachable_bucket_is_a_throttled_failed_event_and_others_still_fire(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, s3: S3Peer
) -> None:
    broken = create_sensor(client, owner, s3_config(s3, f"missing-{unique('b')}"))
    bucket = s3.new_bucket()
    working = create_sensor(client, owner, s3_config(s3, bucket))
    s3.client().put_object(Bucket=bucket, Key="incoming/x.csv", Body=b"x")
    clock = Clock()
    loop = SensorLoop(app.state.db, settings, clock=clock)
    assert loop.tick() == 1
    failed = events(client, owner, broken["sensor_id"])
    assert [e["outcome"] for e in failed] == ["failed"]
    assert "NoSuchBucket" in failed[0]["detail"]["error"] and failed[0]["run_id"] is None
    clock.advance(61)
    loop.tick()
    assert len(events(client, owner, broken["sensor_id"])) == 1  # the same error again: not recorded
    clock.advance(15 * 60)
    loop.tick()
    assert [e["outcome"] for e in events(client, owner, broken["sensor_id"])] == ["failed", "failed"]
    assert fired_keys(client, owner, working["sensor_id"]) == ["incoming/x.csv"]


def test_a_disabled_sensor_is_not_checked(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, s3: S3Peer
) -> None:
    bucket = s3.new_bucket()
    sensor = create_sensor(client, owner, s3_config(s3, bucket), enabled=False)
    s3.client().put_object(Bucket=bucket, Key="incoming/x.csv", Body=b"x")
    clock = Clock()
    assert SensorLoop(app.state.db, settings, clock=clock).tick() == 0
    client.patch(f"/v1/sensors/{sensor['sensor_id']}", headers=owner.headers, json={"enabled": True})
    assert SensorLoop(app.state.db, settings, clock=clock).tick() == 1


def test_test_endpoint_lists_the_bucket_then_fires(client: TestClient, owner: Caller, s3: S3Peer) -> None:
    bucket = s3.new_bucket()
    sensor = create_sensor(client, owner, s3_config(s3, bucket))
    response = client.post(f"/v1/sensors/{sensor['sensor_id']}/test", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success" and body["run_id"]
    run = client.get(f"/v1/runs/{body['run_id']}", headers=owner.headers).json()
    assert run["parameters"]["event"]["test"] is True


def test_test_endpoint_with_an_unreachable_bucket_is_400_and_the_sensor_stays(
    client: TestClient, owner: Caller, s3: S3Peer
) -> None:
    sensor = create_sensor(client, owner, s3_config(s3, f"missing-{unique('b')}"))
    response = client.post(f"/v1/sensors/{sensor['sensor_id']}/test", headers=owner.headers)
    assert response.status_code == 400, response.text
    assert "NoSuchBucket" in response.json()["message"]
    assert client.get(f"/v1/sensors/{sensor['sensor_id']}", headers=owner.headers).status_code == 200
    assert [e["outcome"] for e in events(client, owner, sensor["sensor_id"])] == ["failed"]


def test_a_deleted_secret_is_a_failed_event(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, s3: S3Peer
) -> None:
    sensor = create_sensor(client, owner, s3_config(s3, s3.new_bucket()))
    assert client.delete("/v1/secrets/aws-secret", headers=owner.headers).status_code == 204
    SensorLoop(app.state.db, settings, clock=Clock()).tick()
    failed = events(client, owner, sensor["sensor_id"])
    assert [e["outcome"] for e in failed] == ["failed"]
    assert "Secret not found" in failed[0]["detail"]["error"] and "testing" not in str(failed[0])


# --- Dagy's local object store ---------------------------------------------------------------


def put_local(settings: Settings, org_id: str, key: str, data: bytes) -> Path:
    path = settings.home / "objects" / "dagy" / "data" / org_id / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_local_store_sensor_watches_the_orgs_own_objects(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller
) -> None:
    sensor = create_sensor(client, owner, {"store": "local", "prefix": "incoming/"})
    stranger = new_org(app, client)
    other = create_sensor(client, stranger, {"store": "local", "prefix": "incoming/"})
    put_local(settings, owner.org_id, "incoming/a.json", b"{}")
    put_local(settings, owner.org_id, "incoming/deep/b.json", b"[]")
    put_local(settings, owner.org_id, "outgoing/c.json", b"{}")
    clock = Clock()
    assert SensorLoop(app.state.db, settings, clock=clock).tick() == 2
    assert sorted(fired_keys(client, owner, sensor["sensor_id"])) == [
        "incoming/a.json",
        "incoming/deep/b.json",
    ]
    assert events(client, stranger, other["sensor_id"]) == []
    event = client.get(
        f"/v1/runs/{events(client, owner, sensor['sensor_id'])[0]['run_id']}", headers=owner.headers
    ).json()["parameters"]["event"]
    assert event["store"] == "local" and event["size"] in (2, 2) and "bucket" not in event

    put_local(settings, owner.org_id, "incoming/c.json", b"{}")
    clock.advance(61)
    assert SensorLoop(app.state.db, settings, clock=clock).tick() == 1  # a new loop: only the new one
    clock.advance(61)
    assert SensorLoop(app.state.db, settings, clock=clock).tick() == 0
    response = client.post(f"/v1/sensors/{sensor['sensor_id']}/test", headers=owner.headers)
    assert response.status_code == 200 and response.json()["run_id"]
