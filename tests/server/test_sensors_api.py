"""`/sensors` through HTTP: create (each type's config checked), list, read, change, delete, test,
events, the audit trail and tenancy; and `POST /webhooks/{token}`."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.app import create_app
from dagy.server.settings import Settings
from tests.factories import Caller, add_member, new_org, unique
from tests.flow_factories import python_node, register_flow, spec

ECHO = "def main(inputs, params):\n    return params\n"
EXAMPLE = "https://example.com/"
KEY_ID = "config_json.aws_access_key_id"


def new_flow(client: TestClient, caller: Caller) -> str:
    return register_flow(client, caller, spec(python_node("only", ECHO)))


def create(client: TestClient, caller: Caller, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/sensors", headers=caller.headers, json={"name": unique("sensor"), **body})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def webhook_sensor(client: TestClient, caller: Caller, **body: Any) -> dict[str, Any]:
    flow = body.pop("flow_name", None) or new_flow(client, caller)
    return create(client, caller, sensor_type="webhook", flow_name=flow, **body)


def run_of(client: TestClient, caller: Caller, run_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/runs/{run_id}", headers=caller.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def audit(client: TestClient, caller: Caller, sensor_id: str) -> list[str]:
    response = client.get(f"/v1/audit-logs/resource/sensor/{sensor_id}", headers=caller.headers)
    assert response.status_code == 200, response.text
    return [item["action"] for item in response.json()["items"]]


# --- create, read, list, change, delete -------------------------------------------------------


def test_webhook_sensor_gets_a_token_shown_again_by_get(client: TestClient, owner: Caller) -> None:
    flow = new_flow(client, owner)
    created = webhook_sensor(client, owner, flow_name=flow, flow_params_json={"env": "prod"})
    token = created["webhook_token"]
    assert token.startswith("wh_") and len(token) >= 3 + 22  # at least 128 random bits, base64url
    assert created["sensor_type"] == "webhook" and created["flow_name"] == flow and created["enabled"] is True
    read = client.get(f"/v1/sensors/{created['sensor_id']}", headers=owner.headers).json()
    assert read["webhook_token"] == token
    assert read["config_json"] == {} and read["flow_params_json"] == {"env": "prod"}
    other = webhook_sensor(client, owner, flow_name=flow)
    assert other["webhook_token"] != token


def test_token_is_stored_hashed_and_encrypted(app: FastAPI, client: TestClient, owner: Caller) -> None:
    from dagy.server.db.models import Sensor

    created = webhook_sensor(client, owner)
    with app.state.db.transaction(write=False) as session:
        row = session.get(Sensor, created["sensor_id"])
        assert row is not None
        assert row.webhook_token_hash == hashlib.sha256(created["webhook_token"].encode()).hexdigest()
        assert row.webhook_token_encrypted and created["webhook_token"] not in row.webhook_token_encrypted


def test_unknown_flow_is_404(client: TestClient, owner: Caller) -> None:
    response = client.post(
        "/v1/sensors",
        headers=owner.headers,
        json={"name": "s", "sensor_type": "webhook", "flow_name": unique("missing")},
    )
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("sensor_type", "config", "field"),
    [
        ("s3", {}, "config_json.bucket"),
        ("s3", {"bucket": "Not_A_Bucket"}, "config_json.bucket"),
        ("s3", {"bucket": "data", "events": ["s3:ObjectRemoved:*"]}, "config_json.events"),
        ("s3", {"bucket": "data", "aws_access_key_id": {"secret": "k"}}, "config_json.aws_access_key_id"),
        ("s3", {"bucket": "data", "aws_access_key_id": "AKIA", "aws_secret_access_key": "x"}, KEY_ID),
        ("s3", {"store": "local", "bucket": "data"}, "config_json.bucket"),
        ("s3", {"store": "local", "prefix": "../other-org/"}, "config_json.prefix"),
        ("s3", {"bucket": "data", "endpoint_url": "http://169.254.169.254/"}, "config_json.endpoint_url"),
        ("s3", {"bucket": "data", "interval_seconds": 29}, "config_json.interval_seconds"),
        ("s3", {"bucket": "data", "color": "blue"}, "config_json.color"),
        ("polling", {}, "config_json.url"),
        ("polling", {"url": "ftp://example.com/x"}, "config_json.url"),
        ("polling", {"url": "http://127.0.0.1:9/"}, "config_json.url"),
        ("polling", {"url": "http://localhost/"}, "config_json.url"),
        ("polling", {"url": "https://example.com/", "interval_seconds": 10}, "config_json.interval_seconds"),
        ("polling", {"url": EXAMPLE, "headers": {"X-Key": {"secret": "nope"}}}, "config_json.headers.X-Key"),
        ("polling", {"url": EXAMPLE, "condition": {"jsonpath": "$[?("}}, "config_json.condition.jsonpath"),
        ("webhook", {"anything": 1}, "config_json.anything"),
    ],
)  # fmt: skip
def test_bad_config_is_400_naming_the_field(
    client: TestClient, owner: Caller, sensor_type: str, config: dict[str, Any], field: str
) -> None:
    body = {
        "name": "s",
        "sensor_type": sensor_type,
        "flow_name": new_flow(client, owner),
        "config_json": config,
    }
    response = client.post("/v1/sensors", headers=owner.headers, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_input"
    assert field in response.json()["details"], response.json()


def test_bad_request_fields_are_400(client: TestClient, owner: Caller) -> None:
    flow = new_flow(client, owner)
    for body in (
        {"name": "s", "sensor_type": "kafka", "flow_name": flow},
        {"name": "s", "sensor_type": "webhook", "flow_name": flow, "extra": 1},
        {"name": "", "sensor_type": "webhook", "flow_name": flow},
        {"name": "s", "sensor_type": "webhook", "flow_name": flow, "flow_params_json": {"x": "y" * 70_000}},
    ):
        assert client.post("/v1/sensors", headers=owner.headers, json=body).status_code == 400, body


def test_secret_references_are_accepted_and_never_resolved_into_the_config(
    client: TestClient, owner: Caller
) -> None:
    for name in ("ak", "sk", "api-token"):
        response = client.post(
            "/v1/secrets", headers=owner.headers, json={"secret_name": name, "value": "v-" + name}
        )
        assert response.status_code == 201, response.text
    config = {
        "bucket": "data",
        "prefix": "in/",
        "aws_access_key_id": {"secret": "ak"},
        "aws_secret_access_key": {"secret": "sk"},
    }
    flow = new_flow(client, owner)
    s3 = create(client, owner, sensor_type="s3", flow_name=flow, config_json=config)
    assert s3["webhook_token"] is None and s3["next_check_at"] is not None
    read = client.get(f"/v1/sensors/{s3['sensor_id']}", headers=owner.headers).json()
    assert read["config_json"] == config
    polling = {"url": "https://example.com/status", "headers": {"Authorization": {"secret": "api-token"}}}
    created = create(client, owner, sensor_type="polling", flow_name=flow, config_json=polling)
    assert "v-api-token" not in json.dumps(
        client.get(f"/v1/sensors/{created['sensor_id']}", headers=owner.headers).json()
    )


def test_list_filters_and_pages(client: TestClient, owner: Caller) -> None:
    flow = new_flow(client, owner)
    made = [webhook_sensor(client, owner, flow_name=flow)["sensor_id"] for _ in range(3)]
    disabled = webhook_sensor(client, owner, flow_name=flow, enabled=False)["sensor_id"]
    polling = create(
        client, owner, sensor_type="polling", flow_name=flow, config_json={"url": "https://example.com/"}
    )["sensor_id"]
    seen: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"next_token": token} if token else {})
        page = client.get("/v1/sensors", headers=owner.headers, params=params).json()
        seen += [item["sensor_id"] for item in page["items"]]
        assert all("webhook_token" not in item for item in page["items"])
        token = page["next_token"]
        if token is None:
            break
    assert seen == [polling, disabled, *reversed(made)]
    by_type = client.get("/v1/sensors", headers=owner.headers, params={"sensor_type": "polling"}).json()
    assert [i["sensor_id"] for i in by_type["items"]] == [polling]
    off = client.get("/v1/sensors", headers=owner.headers, params={"enabled": "false"}).json()
    assert [i["sensor_id"] for i in off["items"]] == [disabled]
    assert client.get("/v1/sensors", headers=owner.headers, params={"sensor_type": "x"}).status_code == 400
    assert (
        client.get("/v1/sensors", headers=owner.headers, params={"next_token": "garbage"}).status_code == 400
    )


def test_patch_changes_only_given_fields_and_checks_config(client: TestClient, owner: Caller) -> None:
    flow = new_flow(client, owner)
    sensor = create(
        client, owner, sensor_type="polling", flow_name=flow, config_json={"url": "https://example.com/a"}
    )
    url = f"/v1/sensors/{sensor['sensor_id']}"
    response = client.patch(url, headers=owner.headers, json={"enabled": False, "flow_params_json": {"k": 1}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (
        body["enabled"] is False and body["flow_params_json"] == {"k": 1} and body["name"] == sensor["name"]
    )
    assert body["config_json"] == {"url": "https://example.com/a"}
    bad = client.patch(url, headers=owner.headers, json={"config_json": {"url": "file:///etc/passwd"}})
    assert bad.status_code == 400 and "config_json.url" in bad.json()["details"]
    assert client.patch(url, headers=owner.headers, json={}).status_code == 400
    assert client.patch(url, headers=owner.headers, json={"enabled": None}).status_code == 400
    assert client.patch(url, headers=owner.headers, json={"sensor_type": "s3"}).status_code == 400
    new = {"url": "https://example.com/b", "interval_seconds": 120}
    changed = client.patch(url, headers=owner.headers, json={"config_json": new, "name": "renamed"}).json()
    assert changed["config_json"] == new and changed["name"] == "renamed"
    assert audit(client, owner, sensor["sensor_id"]) == ["update", "update", "create"]


def test_delete_is_204_then_404(client: TestClient, owner: Caller) -> None:
    sensor = webhook_sensor(client, owner)
    fired = client.post(f"/v1/webhooks/{sensor['webhook_token']}", json={"before": "delete"}).json()
    url = f"/v1/sensors/{sensor['sensor_id']}"
    assert client.delete(url, headers=owner.headers).status_code == 204
    assert client.get(f"/v1/runs/{fired['run_id']}", headers=owner.headers).status_code == 200  # runs stay
    assert client.get(url, headers=owner.headers).status_code == 404
    assert client.delete(url, headers=owner.headers).status_code == 404
    assert client.post(f"/v1/webhooks/{sensor['webhook_token']}", json={}).status_code == 404
    assert audit(client, owner, sensor["sensor_id"]) == ["delete", "create"]


def test_another_orgs_sensor_is_404_everywhere(app: FastAPI, client: TestClient, owner: Caller) -> None:
    sensor = webhook_sensor(client, owner)
    stranger = new_org(app, client)
    url = f"/v1/sensors/{sensor['sensor_id']}"
    assert client.get(url, headers=stranger.headers).status_code == 404
    assert client.patch(url, headers=stranger.headers, json={"enabled": False}).status_code == 404
    assert client.delete(url, headers=stranger.headers).status_code == 404
    assert client.post(f"{url}/test", headers=stranger.headers).status_code == 404
    assert client.get(f"{url}/events", headers=stranger.headers).status_code == 404
    assert client.get("/v1/sensors", headers=stranger.headers).json()["items"] == []
    # ... and a sensor cannot name another org's flow
    body = {"name": "s", "sensor_type": "webhook", "flow_name": sensor["flow_name"]}
    assert client.post("/v1/sensors", headers=stranger.headers, json=body).status_code == 404


def test_viewers_cannot_read_sensors(app: FastAPI, client: TestClient, owner: Caller) -> None:
    viewer = add_member(app, client, owner, "viewer")
    developer = add_member(app, client, owner, "developer")
    sensor = webhook_sensor(client, developer)
    assert client.get("/v1/sensors", headers=viewer.headers).status_code == 403
    assert client.get(f"/v1/sensors/{sensor['sensor_id']}", headers=viewer.headers).status_code == 403


# --- test endpoint and events --------------------------------------------------------------------


def test_test_endpoint_fires_a_webhook_sensors_flow_once(client: TestClient, owner: Caller) -> None:
    sensor = webhook_sensor(client, owner, flow_params_json={"env": "prod"})
    response = client.post(f"/v1/sensors/{sensor['sensor_id']}/test", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success" and body["run_id"]
    run = run_of(client, owner, body["run_id"])
    assert run["parameters"]["env"] == "prod"
    assert run["parameters"]["event"]["test"] is True
    assert set(run["tags"]) >= {"sensor", "webhook", "test", f"sensor:{sensor['sensor_id']}"}
    events = client.get(f"/v1/sensors/{sensor['sensor_id']}/events", headers=owner.headers).json()["items"]
    assert [(e["outcome"], e["run_id"]) for e in events] == [("test", body["run_id"])]
    assert audit(client, owner, sensor["sensor_id"]) == ["execute", "create"]


def test_events_page_newest_first(client: TestClient, owner: Caller) -> None:
    sensor = webhook_sensor(client, owner)
    runs = [
        client.post(f"/v1/webhooks/{sensor['webhook_token']}", json={"n": n}).json()["run_id"]
        for n in range(3)
    ]
    url = f"/v1/sensors/{sensor['sensor_id']}/events"
    first = client.get(url, headers=owner.headers, params={"limit": 2}).json()
    rest = client.get(
        url, headers=owner.headers, params={"limit": 2, "next_token": first["next_token"]}
    ).json()
    items = first["items"] + rest["items"]
    assert [e["run_id"] for e in items] == list(reversed(runs))
    assert rest["next_token"] is None
    assert all(e["outcome"] == "fired" and len(e["payload_digest"]) == 64 and e["time"] for e in items)


# --- webhooks -------------------------------------------------------------------------------------


def test_webhook_queues_the_flow_with_the_payload_as_event(client: TestClient, owner: Caller) -> None:
    sensor = webhook_sensor(client, owner, flow_params_json={"env": "prod", "event": "overwritten"})
    payload = {"event": "data_ready", "data": {"file": "data.csv"}}
    raw = json.dumps(payload).encode()
    response = client.post(
        f"/v1/webhooks/{sensor['webhook_token']}", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued" and body["message"] == "Event received and flow triggered"
    run = run_of(client, owner, body["run_id"])
    assert run["parameters"] == {"env": "prod", "event": payload}
    assert set(run["tags"]) >= {"sensor", "webhook", f"sensor:{sensor['sensor_id']}"}
    events = client.get(f"/v1/sensors/{sensor['sensor_id']}/events", headers=owner.headers).json()["items"]
    assert events[0]["run_id"] == body["run_id"] and events[0]["outcome"] == "fired"
    provenance = ("trigger", "sensor_id", "sensor_event_id", "schedule_id")
    assert tuple(run[k] for k in provenance) == ("webhook", sensor["sensor_id"], events[0]["event_id"], None)
    query = {"sensor_id": sensor["sensor_id"], "trigger": "webhook"}
    assert [
        r["run_id"] for r in client.get("/v1/runs", headers=owner.headers, params=query).json()["items"]
    ] == [body["run_id"]]
    assert events[0]["payload_digest"] == hashlib.sha256(raw).hexdigest()
    listed = client.get("/v1/sensors", headers=owner.headers).json()["items"]
    assert next(s for s in listed if s["sensor_id"] == sensor["sensor_id"])["last_fired_at"] is not None


def test_webhook_takes_any_json_value(client: TestClient, owner: Caller) -> None:
    sensor = webhook_sensor(client, owner)
    for value in ([1, 2, 3], "text", 42, None):
        response = client.post(f"/v1/webhooks/{sensor['webhook_token']}", content=json.dumps(value))
        assert response.status_code == 202, response.text
        assert run_of(client, owner, response.json()["run_id"])["parameters"]["event"] == value


def test_webhook_refuses_what_is_not_json(client: TestClient, owner: Caller) -> None:
    sensor = webhook_sensor(client, owner)
    url = f"/v1/webhooks/{sensor['webhook_token']}"
    for content in (b"not json", b"", b"{'a': 1}", b"NaN"):
        response = client.post(url, content=content)
        assert response.status_code == 400, content
        assert response.json()["details"] == {"body": "must be JSON"}
    response = client.post(url, content=b'{"deep": [{"k\\u0000": 1}]}')
    assert response.status_code == 400 and response.json()["details"] == {"body": "must not contain \\u0000"}
    assert client.post(url, content=b'{"escaped": "\\\\u0000"}').status_code == 202  # a backslash, then u0000
    events = client.get(f"/v1/sensors/{sensor['sensor_id']}/events", headers=owner.headers).json()["items"]
    assert [e["outcome"] for e in events] == ["fired"]  # only the one with a backslash


def test_webhook_body_over_1_mb_is_413(client: TestClient, owner: Caller) -> None:
    sensor = webhook_sensor(client, owner)
    url = f"/v1/webhooks/{sensor['webhook_token']}"
    limit = 1024 * 1024
    at_limit = b'"' + b"x" * (limit - 2) + b'"'
    assert client.post(url, content=at_limit).status_code == 202
    over = b'"' + b"x" * (limit - 1) + b'"'
    response = client.post(url, content=over)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_unknown_token_and_disabled_sensor_are_404(client: TestClient, owner: Caller) -> None:
    for token in ("wh_unknown", "nothing-like-a-token", "wh_" + "x" * 300):
        assert client.post(f"/v1/webhooks/{token}", json={}).status_code == 404
    sensor = webhook_sensor(client, owner, enabled=False)
    response = client.post(f"/v1/webhooks/{sensor['webhook_token']}", json={})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    client.patch(f"/v1/sensors/{sensor['sensor_id']}", headers=owner.headers, json={"enabled": True})
    assert client.post(f"/v1/webhooks/{sensor['webhook_token']}", json={}).status_code == 202


def test_webhook_rate_limit_per_token_is_429_with_retry_after(settings: Settings) -> None:
    limited = settings.model_copy(update={"webhook_rate_limit_per_minute": 3})
    app = create_app(limited, migrate=False)
    with TestClient(app) as client:
        owner = new_org(app, client)
        sensor = webhook_sensor(client, owner)
        other = webhook_sensor(client, owner)
        url = f"/v1/webhooks/{sensor['webhook_token']}"
        statuses = [client.post(url, json={"n": n}) for n in range(7)]  # at most one window boundary
        assert [r.status_code for r in statuses[:3]] == [202, 202, 202]
        refused = [r for r in statuses if r.status_code == 429]
        assert refused, [r.status_code for r in statuses]
        assert int(refused[0].headers["Retry-After"]) >= 1
        assert refused[0].json()["error"] == "rate_limited"
        assert client.post(f"/v1/webhooks/{other['webhook_token']}", json={}).status_code == 202


def test_webhook_is_public(client: TestClient, owner: Caller) -> None:
    sensor = webhook_sensor(client, owner)
    response = client.post(
        f"/v1/webhooks/{sensor['webhook_token']}", json={}, headers={"Authorization": "Bearer nonsense"}
    )
    assert response.status_code == 202
