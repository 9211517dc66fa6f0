"""A flow's parameter schema declared in its spec (`flow_spec.parameters`), through HTTP: checked
and stored at registration, every way of asking for runs checked against the version they would run
(runs, reruns, schedules, sensors, webhooks), and the schema's defaults filled in for what a run
leaves out, whatever started it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.services.scheduler import tick
from dagy.server.settings import Settings
from tests.factories import Caller, unique
from tests.flow_factories import python_node, register_flow, spec
from tests.server.test_flows_parameters import register_code_flow

# Schedules fire on this module's own clock: a database of its own.
pytestmark = pytest.mark.settings("own_database_settings")

ECHO = "def main(inputs, params):\n    return params\n"
LOAD = {
    "type": "object",
    "properties": {
        "region": {"type": "string", "enum": ["eu", "us"], "default": "eu", "description": "Where to load"},
        "limit": {"type": "integer", "minimum": 1, "default": 100},
        "day": {"type": "string", "format": "date", "description": "The day to load"},
        "dry_run": {"type": "boolean", "default": False},
    },
    "required": ["day"],
    "additionalProperties": False,
}
LOAD_DEFAULTS = {"region": "eu", "limit": 100, "dry_run": False}
# A sensor's flow: each run gets its event as parameter `event`.
ON_EVENT = {
    "type": "object",
    "properties": {"event": {}, "env": {"enum": ["dev", "prod"], "default": "dev"}},
    "additionalProperties": False,
}


def dag_spec(parameters: dict[str, Any] | None) -> dict[str, Any]:
    declared = spec(python_node("only", ECHO))
    return declared if parameters is None else declared | {"parameters": parameters}


def register(
    client: TestClient, owner: Caller, parameters: dict[str, Any] | None = LOAD, **extra: Any
) -> str:
    return register_flow(client, owner, dag_spec(parameters), **extra)


def post_run(client: TestClient, owner: Caller, **body: Any) -> httpx.Response:
    return client.post("/v1/runs", headers=owner.headers, json=body)


def refusal(response: httpx.Response) -> dict[str, Any]:
    """The `details` of a 400 `invalid_input`."""
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_input"
    details: dict[str, Any] = response.json()["details"]
    return details


def parameters_of(client: TestClient, owner: Caller, run_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/runs/{run_id}", headers=owner.headers)
    assert response.status_code == 200, response.text
    parameters: dict[str, Any] = response.json()["parameters"]
    return parameters


# --- registration -----------------------------------------------------------------------------


def test_a_declared_schema_is_stored_and_read_back(client: TestClient, owner: Caller) -> None:
    flow = register(client, owner)
    latest = client.get(f"/v1/flows/{flow}/latest", headers=owner.headers).json()
    assert latest["parameter_schema"] == LOAD
    assert latest["flow_spec"]["parameters"] == LOAD
    assert client.get(f"/v1/flows/{flow}/1", headers=owner.headers).json()["parameter_schema"] == LOAD


def test_a_code_flows_declared_schema_wins_over_its_type_hints(
    client: TestClient, settings: Settings, owner: Caller
) -> None:
    source = "def daily(day: int, limit: int = 5):\n    return day\n"
    flow = register_code_flow(client, settings, owner, source)
    hinted = client.get(f"/v1/flows/{flow}/latest", headers=owner.headers).json()["parameter_schema"]
    assert hinted["properties"]["day"]["type"] == "integer"
    declared = {"type": "object", "properties": {"day": {"type": "string"}}, "required": ["day"]}
    register_code_flow(
        client,
        settings,
        owner,
        source,
        flow=flow,
        flow_spec={"entrypoint": "etl.flows:daily", "parameters": declared},
    )
    read = client.get(f"/v1/flows/{flow}/latest", headers=owner.headers).json()
    assert read["flow_version"] == "2" and read["parameter_schema"] == declared
    assert refusal(post_run(client, owner, flow_name=flow, parameters={"day": 1})) == {
        "parameters.day": "must be a string"
    }
    ran = post_run(client, owner, flow_name=flow, parameters={"day": "d"})
    assert ran.status_code == 202 and ran.json()["parameters"] == {"day": "d"}  # no hint's default


@pytest.mark.parametrize(
    ("parameters", "field", "words"),
    [
        ([1], "flow_spec.parameters", "a JSON Schema (draft 2020-12) of type object"),
        ({"type": "array"}, "flow_spec.parameters.type", 'must be "object"'),
        ({"properties": {}}, "flow_spec.parameters.type", 'must be "object"'),
        (
            {"type": "object", "properties": {"limit": {"type": "integr"}}},
            "flow_spec.parameters.properties.limit.type",
            "is not valid under any of the given schemas",
        ),
        ({"type": "object", "required": "day"}, "flow_spec.parameters.required", "is not of type 'array'"),
        (
            {"type": "object", "properties": {"p": {"type": "string", "pattern": "("}}},
            "flow_spec.parameters.properties.p.pattern",
            "is not a 'regex'",
        ),
        (
            {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"},
            "flow_spec.parameters.$schema",
            "draft 2020-12",
        ),
        (
            {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}},
            "flow_spec.parameters.properties.a.$ref",
            "only a reference inside this schema",
        ),
        (
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/nowhere"}}},
            "flow_spec.parameters.properties.a.$ref",
            "is no place in this schema",
        ),
        (
            {"type": "object", "properties": {"limit": {"type": "integer", "default": "ten"}}},
            "flow_spec.parameters.properties.limit.default",
            "does not fit its property",
        ),
        (
            {"type": "object", "properties": {f"p{i:05}": {"description": "x" * 80} for i in range(700)}},
            "flow_spec.parameters",
            "at most 65536 bytes",
        ),
    ],
)
def test_an_invalid_schema_is_400_naming_where(
    client: TestClient, owner: Caller, parameters: Any, field: str, words: str
) -> None:
    body = {"flow_name": unique("flow"), "flow_spec": dag_spec(parameters)}
    details = refusal(client.post("/v1/flows", headers=owner.headers, json=body))
    assert list(details) == [field]
    assert words in details[field]
    assert client.get(f"/v1/flows/{body['flow_name']}/latest", headers=owner.headers).status_code == 404


def test_references_inside_the_schema_are_followed(client: TestClient, owner: Caller) -> None:
    declared = {
        "type": "object",
        "$defs": {"day": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}},
        "properties": {
            "day": {"$ref": "#/$defs/day"},
            "days": {"type": "array", "items": {"$ref": "#/$defs/day"}},
        },
    }
    flow = register(client, owner, declared)
    assert post_run(client, owner, flow_name=flow, parameters={"day": "2026-12-07"}).status_code == 202
    details = refusal(post_run(client, owner, flow_name=flow, parameters={"day": "soon", "days": ["x"]}))
    assert details == {
        "parameters.day": "'soon' does not match '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'",
        "parameters.days": "[0]: 'x' does not match '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'",
    }


def test_a_pattern_that_backtracks_is_cut_short_and_refused(client: TestClient, owner: Caller) -> None:
    """A member's pattern runs against a caller's string on an API thread: with Python's `re` this
    one would take minutes on 40 characters; its time limit refuses the string instead."""
    flow = register(
        client, owner, {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a|a)+$"}}}
    )
    assert post_run(client, owner, flow_name=flow, parameters={"code": "aaaa"}).status_code == 202
    details = refusal(post_run(client, owner, flow_name=flow, parameters={"code": "a" * 40 + "!"}))
    assert details == {"parameters.code": "took too long to match the pattern '^(a|a)+$'"}


# --- runs -------------------------------------------------------------------------------------


def test_runs_that_do_not_fit_are_400_naming_each_parameter(client: TestClient, owner: Caller) -> None:
    flow = register(client, owner)
    response = post_run(client, owner, flow_name=flow, parameters={"region": "asia", "limit": 0, "x": 1})
    assert refusal(response) == {
        "parameters.region": 'must be one of "eu", "us"',
        "parameters.limit": "0 is less than the minimum of 1",
        "parameters.day": "required by the flow",
        "parameters.x": "the flow takes no parameter x",
    }
    assert all(name in response.json()["message"] for name in ("region", "limit", "day", "x"))
    assert refusal(post_run(client, owner, flow_name=flow, parameters={"day": 7})) == {
        "parameters.day": "must be a date as a string (YYYY-MM-DD)"
    }
    assert client.get("/v1/runs", headers=owner.headers, params={"flow_name": flow}).json()["items"] == []


def test_defaults_are_filled_in_for_what_a_run_leaves_out(client: TestClient, owner: Caller) -> None:
    deployment = unique("dep")
    flow = register(client, owner, deployment_name=deployment)
    for body in [
        {"flow_name": flow, "parameters": {"day": "2026-12-07"}},
        {"flow_name": flow, "parameters": {"day": "2026-12-07"}},  # the version this process knows
        {"flow_name": flow, "flow_version": "1", "parameters": {"day": "d", "limit": 5}},
        {"deployment": deployment, "parameters": {"day": "d", "region": "us"}},
        {"flow_name": flow, "parameters": {"day": "d"}, "execute": False},
    ]:
        response = post_run(client, owner, **body)
        assert response.status_code == 202, response.text
        expected = LOAD_DEFAULTS | body["parameters"]
        assert response.json()["parameters"] == expected
        assert parameters_of(client, owner, response.json()["run_id"]) == expected


def test_the_version_a_run_gets_gives_its_defaults(client: TestClient, owner: Caller) -> None:
    """A run gets the defaults of the version it runs, also when a newer one was registered since
    this process last looked the flow's latest version up."""
    no_defaults = {"type": "object", "properties": {"day": {"type": "string"}}}
    flow = register(client, owner, no_defaults)
    first = post_run(client, owner, flow_name=flow, parameters={"day": "d"})
    assert first.status_code == 202 and first.json()["parameters"] == {"day": "d"}
    register(client, owner, LOAD, flow_name=flow)
    second = post_run(client, owner, flow_name=flow, parameters={"day": "d"})
    assert second.json()["flow_version"] == "2" and second.json()["parameters"] == LOAD_DEFAULTS | {
        "day": "d"
    }
    register(client, owner, None, flow_name=flow)  # a version that declares nothing: nothing filled in
    third = post_run(client, owner, flow_name=flow, parameters={"day": "d"})
    assert third.json()["flow_version"] == "3" and third.json()["parameters"] == {"day": "d"}
    old = post_run(client, owner, flow_name=flow, flow_version="2", parameters={"day": "d"})
    assert old.json()["parameters"] == LOAD_DEFAULTS | {"day": "d"}


def test_a_rerun_with_overrides_is_checked_and_keeps_the_defaults(client: TestClient, owner: Caller) -> None:
    flow = register(client, owner)
    original = post_run(client, owner, flow_name=flow, parameters={"day": "d", "limit": 3}).json()
    path = f"/v1/runs/{original['run_id']}/rerun"
    details = refusal(client.post(path, headers=owner.headers, json={"parameters": {"limit": "all"}}))
    assert details == {"parameters.limit": "must be an integer"}
    again = client.post(path, headers=owner.headers, json={"parameters": {"region": "us"}})
    assert again.status_code == 202, again.text
    assert parameters_of(client, owner, again.json()["run_id"]) == LOAD_DEFAULTS | {
        "day": "d",
        "limit": 3,
        "region": "us",
    }


# --- schedules --------------------------------------------------------------------------------


def schedule_body(flow: str, **body: Any) -> dict[str, Any]:
    return {
        "schedule_id": unique("sched"),
        "flow_name": flow,
        "mode": "cron",
        "cron_expression": "0 * * * *",
    } | body


def test_a_schedules_parameters_must_fit_the_version_it_runs(client: TestClient, owner: Caller) -> None:
    flow = register(client, owner)
    body = schedule_body(flow, parameters={"day": "d", "limit": -1})
    assert refusal(client.post("/v1/schedules", headers=owner.headers, json=body)) == {
        "parameters.limit": "-1 is less than the minimum of 1"
    }
    assert client.get(f"/v1/schedules/{body['schedule_id']}", headers=owner.headers).status_code == 404
    body["parameters"] = {"day": "d"}
    made = client.post("/v1/schedules", headers=owner.headers, json=body)
    assert made.status_code == 201, made.text
    path = f"/v1/schedules/{body['schedule_id']}"
    changed = client.patch(path, headers=owner.headers, json={"parameters": {"day": "d", "size": 1}})
    assert refusal(changed) == {"parameters.size": "the flow takes no parameter size"}
    # A version the parameters do not fit, named by the schedule: refused too.
    register(client, owner, {"type": "object", "properties": {"day": {"type": "integer"}}}, flow_name=flow)
    assert refusal(client.patch(path, headers=owner.headers, json={"flow_version": "2"})) == {
        "parameters.day": "must be an integer"
    }
    assert client.get(path, headers=owner.headers).json()["parameters"] == {"day": "d"}  # unchanged
    pinned = client.patch(path, headers=owner.headers, json={"flow_version": "1", "parameters": {"day": "e"}})
    assert pinned.status_code == 200, pinned.text
    triggered = client.post(f"{path}/trigger", headers=owner.headers, json={"parameters": {"limit": 2}})
    assert triggered.status_code == 202, triggered.text
    assert parameters_of(client, owner, triggered.json()["run_id"]) == LOAD_DEFAULTS | {
        "day": "e",
        "limit": 2,
    }


def test_a_schedule_in_an_environment_fits_its_deployments_version(client: TestClient, owner: Caller) -> None:
    flow = register(client, owner)
    register(client, owner, None, flow_name=flow)  # the latest declares nothing; the deployment runs 1
    env = unique("env")
    assert client.post("/v1/environments", headers=owner.headers, json={"env_name": env}).status_code == 201
    deployment = {"name": unique("dep"), "flow_name": flow, "flow_version": "1", "environment": env}
    assert client.post("/v1/deployments", headers=owner.headers, json=deployment).status_code == 201
    body = schedule_body(flow, environment=env, parameters={"day": "d", "region": "mars"})
    assert refusal(client.post("/v1/schedules", headers=owner.headers, json=body)) == {
        "parameters.region": 'must be one of "eu", "us"'
    }
    assert (
        client.post(
            "/v1/schedules", headers=owner.headers, json=schedule_body(flow, parameters={"x": 1})
        ).status_code
        == 201
    )


def test_a_fire_time_and_a_backfill_get_the_defaults(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller
) -> None:
    flow = register(client, owner)
    made = client.post(
        "/v1/schedules", headers=owner.headers, json=schedule_body(flow, parameters={"day": "d"})
    )
    assert made.status_code == 201, made.text
    schedule = made.json()
    first = datetime.fromisoformat(schedule["next_run_at"].replace("Z", "+00:00"))
    result = tick(app.state.db, settings=settings, now=first + timedelta(milliseconds=100))
    assert result.queued >= 1
    path = f"/v1/schedules/{schedule['schedule_id']}"
    [fired] = client.get(f"{path}/runs", headers=owner.headers).json()["items"]
    assert parameters_of(client, owner, fired["run_id"]) == LOAD_DEFAULTS | {"day": "d"}
    client.patch(path, headers=owner.headers, json={"enabled": False})
    window = {
        "start": (first - timedelta(hours=2)).isoformat(),
        "end": (first - timedelta(hours=1)).isoformat(),
    }
    backfilled = client.post(f"{path}/backfill", headers=owner.headers, json=window)
    assert backfilled.status_code == 202, backfilled.text
    run_ids = [run["run_id"] for run in backfilled.json()["runs"]]
    assert len(run_ids) == 2
    for run_id in run_ids:
        assert parameters_of(client, owner, run_id) == LOAD_DEFAULTS | {"day": "d"}


# --- sensors and webhooks ---------------------------------------------------------------------


def sensor_body(flow: str, **body: Any) -> dict[str, Any]:
    return {"name": unique("sensor"), "sensor_type": "webhook", "flow_name": flow} | body


def test_a_sensors_parameters_must_fit_its_flow(client: TestClient, owner: Caller) -> None:
    flow = register(client, owner, ON_EVENT)
    bad = sensor_body(flow, flow_params_json={"env": "staging", "other": 1})
    assert refusal(client.post("/v1/sensors", headers=owner.headers, json=bad)) == {
        "flow_params_json.env": 'must be one of "dev", "prod"',
        "flow_params_json.other": "the flow takes no parameter other",
    }
    takes_no_event = register(client, owner)
    assert refusal(client.post("/v1/sensors", headers=owner.headers, json=sensor_body(takes_no_event))) == {
        "flow_name": "the flow takes no parameter event, which each run of a sensor is given",
        "flow_params_json.day": "required by the flow",
    }
    made = client.post("/v1/sensors", headers=owner.headers, json=sensor_body(flow))
    assert made.status_code == 201, made.text
    path = f"/v1/sensors/{made.json()['sensor_id']}"
    changed = client.patch(path, headers=owner.headers, json={"flow_params_json": {"env": 1}})
    assert refusal(changed) == {"flow_params_json.env": 'must be one of "dev", "prod"'}
    assert (
        client.patch(path, headers=owner.headers, json={"flow_params_json": {"env": "prod"}}).status_code
        == 200
    )
    assert client.get(path, headers=owner.headers).json()["flow_params_json"] == {"env": "prod"}


def test_a_webhooks_run_gets_the_defaults_and_is_refused_by_a_version_it_does_not_fit(
    client: TestClient, owner: Caller
) -> None:
    flow = register(client, owner, ON_EVENT)
    sensor = client.post("/v1/sensors", headers=owner.headers, json=sensor_body(flow)).json()
    hook = f"/v1/webhooks/{sensor['webhook_token']}"
    accepted = client.post(hook, json={"id": 1})
    assert accepted.status_code == 202, accepted.text
    assert parameters_of(client, owner, accepted.json()["run_id"]) == {"event": {"id": 1}, "env": "dev"}
    # A version registered since whose schema takes no event: the webhook is refused, by parameter.
    register(client, owner, LOAD, flow_name=flow)
    assert refusal(client.post(hook, json={"id": 2})) == {
        "parameters.event": "the flow takes no parameter event",
        "parameters.day": "required by the flow",
    }
    # A polling or s3 sensor's refused run is a `refused` event; the test endpoint shows it.
    tested = client.post(f"/v1/sensors/{sensor['sensor_id']}/test", headers=owner.headers)
    assert tested.status_code == 400
    events = client.get(f"/v1/sensors/{sensor['sensor_id']}/events", headers=owner.headers).json()["items"]
    assert events[0]["outcome"] == "refused" and events[0]["run_id"] is None
    assert all(name in events[0]["detail"]["message"] for name in ("event", "day"))
