"""A code flow's parameters checked when a run is created, through HTTP: registration stores the
schema read from the entry function's type hints, and every way of creating a run (by flow, by
deployment, a webhook, a schedule's fire time) refuses parameters that do not fit it (400 naming
each parameter), and fills in the function's literal defaults for what a run leaves out."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dagy.server.db.models import ScheduleFire
from dagy.server.domains.schedules import repository as schedules
from dagy.server.services.scheduler import tick
from dagy.server.settings import Settings
from tests.factories import Caller, unique
from tests.flow_factories import python_node, register_flow, spec

pytestmark = pytest.mark.settings("own_pool_settings")

DAILY = """\
from dagy import flow


@flow
def daily(day: str, limit: int = 10, dry_run: bool = False, tags: list[str] | None = None):
    return {"day": day, "limit": limit}
"""
DAILY_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "day": {"type": "string", "x-python-type": "str"},
        "limit": {"type": "integer", "default": 10, "x-python-type": "int"},
        "dry_run": {"type": "boolean", "default": False, "x-python-type": "bool"},
        "tags": {
            "type": ["array", "null"],
            "items": {"type": "string"},
            "default": None,
            "x-python-type": "list[str] | None",
        },
    },
    "required": ["day"],
    "additionalProperties": False,
}
LIMIT_IS_NOT_AN_INT = "must be an integer (the flow function's type hint is int)"
DEFAULTS = {"limit": 10, "dry_run": False, "tags": None}


def store_artifact(settings: Settings, owner: Caller, flow: str, source: str) -> str:
    """A zip holding `etl/flows.py` in the local object store under the flow's prefix: its key."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("etl/__init__.py", "")
        archive.writestr("etl/flows.py", source)
    key = f"dagy/flows/{owner.org_id}/{flow}/{unique('v')}.zip"
    path = settings.home / "objects" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return key


def register_code_flow(
    client: TestClient,
    settings: Settings,
    owner: Caller,
    source: str,
    *,
    entrypoint: str = "etl.flows:daily",
    flow: str | None = None,
    artifact: str | None = None,
    **extra: Any,
) -> str:
    flow = flow or unique("code")
    body = {
        "flow_name": flow,
        "flow_spec": {"entrypoint": entrypoint},
        "artifact_s3_uri": artifact or store_artifact(settings, owner, flow, source),
        **extra,
    }
    response = client.post("/v1/flows", headers=owner.headers, json=body)
    assert response.status_code == 201, response.text
    return flow


def post_run(client: TestClient, owner: Caller, **body: Any) -> httpx.Response:
    return client.post("/v1/runs", headers=owner.headers, json=body)


def refused(response: httpx.Response) -> dict[str, str]:
    """The `details` of a 400 for parameters that do not fit."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_input"
    for name in body["details"]:
        assert name.removeprefix("parameters.") in body["message"], body
    details: dict[str, str] = body["details"]
    return details


def test_registration_stores_the_schema_of_the_entry_function(
    client: TestClient, settings: Settings, owner: Caller
) -> None:
    flow = register_code_flow(client, settings, owner, DAILY)
    latest = client.get(f"/v1/flows/{flow}/latest", headers=owner.headers).json()
    assert latest["parameter_schema"] == DAILY_SCHEMA
    assert client.get(f"/v1/flows/{flow}/1", headers=owner.headers).json()["parameter_schema"] == DAILY_SCHEMA
    # A DAG flow has none: its nodes read their parameters as they please.
    dag = register_flow(client, owner, spec(python_node("only", "def main(inputs, params):\n    return 1\n")))
    assert client.get(f"/v1/flows/{dag}/latest", headers=owner.headers).json()["parameter_schema"] is None


def test_parameters_that_do_not_fit_are_400_naming_each(
    client: TestClient, settings: Settings, owner: Caller
) -> None:
    flow = register_code_flow(client, settings, owner, DAILY)
    assert refused(post_run(client, owner, flow_name=flow, parameters={"limit": "ten"})) == {
        "parameters.limit": LIMIT_IS_NOT_AN_INT,
        "parameters.day": "required by the flow",
    }
    assert refused(post_run(client, owner, flow_name=flow, parameters={"day": "d", "extra": 1})) == {
        "parameters.extra": "the flow takes no parameter extra"
    }
    assert refused(post_run(client, owner, flow_name=flow, parameters={"day": "d", "limit": True})) == {
        "parameters.limit": LIMIT_IS_NOT_AN_INT
    }
    good = {"day": "2026-12-07", "limit": 3, "tags": ["a", "b"]}
    for body in [
        {"flow_name": flow, "parameters": good},
        {"flow_name": flow, "parameters": good},  # again: the version this process already knows
        {"flow_name": flow, "flow_version": "1", "parameters": {"day": "d", "tags": None}},
        {"flow_name": flow, "parameters": {"day": "d"}, "execute": False},
    ]:
        response = post_run(client, owner, **body)
        assert response.status_code == 202, response.text
        # The function's literal defaults are filled in for what the run leaves out.
        assert response.json()["parameters"] == DEFAULTS | body["parameters"]
    # Parameters that fitted once and do not now, and a named version, are refused all the same.
    assert refused(post_run(client, owner, flow_name=flow, parameters={"day": 1})) == {
        "parameters.day": "must be a string (the flow function's type hint is str)"
    }
    named = post_run(client, owner, flow_name=flow, flow_version="1", parameters={"day": "d", "n": 1})
    assert refused(named) == {"parameters.n": "the flow takes no parameter n"}
    listed = client.get("/v1/runs", headers=owner.headers, params={"flow_name": flow}).json()["items"]
    assert len(listed) == 4  # the refused ones left nothing behind


def test_the_version_that_runs_decides(client: TestClient, settings: Settings, owner: Caller) -> None:
    """The check follows the version a run gets, also when a newer one is registered meanwhile."""
    flow = register_code_flow(client, settings, owner, "", artifact="s3://dagy-artifacts/flows/v1.zip")
    unchecked = post_run(client, owner, flow_name=flow, parameters={"whatever": [1]})
    assert unchecked.status_code == 202 and unchecked.json()["flow_version"] == "1"
    register_code_flow(client, settings, owner, DAILY, flow=flow)
    assert refused(post_run(client, owner, flow_name=flow, parameters={"whatever": [1]})) == {
        "parameters.whatever": "the flow takes no parameter whatever",
        "parameters.day": "required by the flow",
    }
    checked = post_run(client, owner, flow_name=flow, parameters={"day": "d"})
    assert checked.status_code == 202 and checked.json()["flow_version"] == "2"
    register_code_flow(client, settings, owner, "def daily(**anything):\n    return anything\n", flow=flow)
    response = post_run(client, owner, flow_name=flow, parameters={"whatever": [1]})
    assert response.status_code == 202 and response.json()["flow_version"] == "3"
    register_code_flow(client, settings, owner, "def daily(): pass\n", flow=flow)
    assert refused(post_run(client, owner, flow_name=flow, parameters={"whatever": [1]})) == {
        "parameters.whatever": "the flow takes no parameter whatever"
    }
    for label in ("1", "3"):
        old = post_run(client, owner, flow_name=flow, flow_version=label, parameters={"whatever": [1]})
        assert old.status_code == 202 and old.json()["flow_version"] == label


def test_kwargs_and_unannotated_parameters_take_anything(
    client: TestClient, settings: Settings, owner: Caller
) -> None:
    source = "import dagy\n\n@dagy.flow(name='x')\nasync def daily(a: int, b, c=None, **rest):\n    pass\n"
    flow = register_code_flow(client, settings, owner, source)
    schema = client.get(f"/v1/flows/{flow}/latest", headers=owner.headers).json()["parameter_schema"]
    assert schema["additionalProperties"] is True and schema["required"] == ["a", "b"]
    ok = post_run(client, owner, flow_name=flow, parameters={"a": 1, "b": {"any": [1, "x"]}, "z": "extra"})
    assert ok.status_code == 202, ok.text
    assert refused(post_run(client, owner, flow_name=flow, parameters={"b": 1})) == {
        "parameters.a": "required by the flow"
    }


def test_what_registration_cannot_read_is_not_checked(
    client: TestClient, settings: Settings, owner: Caller
) -> None:
    external = register_code_flow(client, settings, owner, "", artifact="s3://dagy-artifacts/flows/daily.zip")
    wrapped = "from functools import cache\n\n@cache\ndef daily(n: int):\n    return n\n"
    assigned = "from dagy import flow\n\ndef _daily(n: int):\n    return n\n\ndaily = flow(_daily)\n"
    models = (
        "from pydantic import BaseModel\n\nclass Day(BaseModel):\n    d: str\n\n\ndef daily(day: Day): ...\n"
    )
    others = [register_code_flow(client, settings, owner, source) for source in (wrapped, assigned)]
    for flow in [external, *others]:
        read = client.get(f"/v1/flows/{flow}/latest", headers=owner.headers).json()
        assert read["parameter_schema"] is None
        assert post_run(client, owner, flow_name=flow, parameters={"n": "x", "m": 1}).status_code == 202
    model = register_code_flow(client, settings, owner, models)
    assert post_run(client, owner, flow_name=model, parameters={"day": {"d": "x"}}).status_code == 202
    assert refused(post_run(client, owner, flow_name=model, parameters={})) == {
        "parameters.day": "required by the flow"
    }


def test_runs_of_a_deployment_are_checked(client: TestClient, settings: Settings, owner: Caller) -> None:
    deployment = unique("dep")
    register_code_flow(client, settings, owner, DAILY, deployment_name=deployment)
    assert refused(post_run(client, owner, deployment=deployment, parameters={"day": "d", "limit": "x"})) == {
        "parameters.limit": LIMIT_IS_NOT_AN_INT
    }
    assert post_run(client, owner, deployment=deployment, parameters={"day": "d"}).status_code == 202


def test_a_sensor_for_a_flow_that_takes_no_event_is_refused(
    client: TestClient, settings: Settings, owner: Caller
) -> None:
    """A sensor's run gets the event as parameter `event`: the flow function must take it, which
    creating the sensor checks (a version registered later is checked when its webhook is called,
    tests/server/test_parameter_schema_spec.py)."""
    body = {
        "name": unique("s"),
        "sensor_type": "webhook",
        "flow_name": register_code_flow(client, settings, owner, DAILY),
    }
    response = client.post("/v1/sensors", headers=owner.headers, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["details"] == {
        "flow_name": "the flow takes no parameter event, which each run of a sensor is given",
        "flow_params_json.day": "required by the flow",
    }
    takes_event = "def daily(event: dict, env: str = 'dev'):\n    return event\n"
    body["flow_name"] = register_code_flow(client, settings, owner, takes_event)
    sensor = client.post("/v1/sensors", headers=owner.headers, json=body).json()
    response = client.post(f"/v1/webhooks/{sensor['webhook_token']}", json={"day": "d"})
    assert response.status_code == 202, response.text


@pytest.mark.settings("own_database_settings")
def test_a_schedule_fire_that_does_not_fit_is_recorded_refused(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller
) -> None:
    """Parameters that fitted when the schedule was made and do not fit a version registered
    since: its fire time is recorded refused and the schedule moves on."""
    flow = register_code_flow(client, settings, owner, DAILY)
    body = {
        "schedule_id": unique("sched"),
        "flow_name": flow,
        "mode": "cron",
        "cron_expression": "0 * * * *",
        "parameters": {"day": "d", "limit": 5},
    }
    made = client.post("/v1/schedules", headers=owner.headers, json=body).json()
    register_code_flow(client, settings, owner, "def daily(day: int):\n    return day\n", flow=flow)
    path = f"/v1/schedules/{made['schedule_id']}"
    no_longer = {
        "parameters.day": "must be an integer (the flow function's type hint is int)",
        "parameters.limit": "the flow takes no parameter limit",
    }
    assert refused(client.post(f"{path}/trigger", headers=owner.headers, json={})) == no_longer
    first = datetime.fromisoformat(made["next_run_at"].replace("Z", "+00:00"))
    result = tick(app.state.db, settings=settings, now=first + timedelta(milliseconds=100))
    assert result.refused == 1 and result.queued == 0
    with app.state.db.transaction(write=False) as session:
        schedule = schedules.get_schedule(session, owner.org_id, made["schedule_id"])
        assert schedule is not None
        [fire] = session.execute(
            select(ScheduleFire).where(ScheduleFire.schedule_id == schedule.id)
        ).scalars()
        assert fire.outcome == "refused" and fire.run_id is None and fire.detail is not None
        assert fire.detail["details"] == no_longer
    after = client.get(path, headers=owner.headers).json()
    assert datetime.fromisoformat(after["next_run_at"].replace("Z", "+00:00")) > first
    client.patch(path, headers=owner.headers, json={"enabled": False})
