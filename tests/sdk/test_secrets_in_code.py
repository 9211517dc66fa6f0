"""Secrets where users write code: `dagy.secrets.get` in a code flow's tasks and in
`python_function`, `{"secret": name}` in `shell_command`'s `env`; values masked in logs, node
outputs, the run's output and errors; undeclared and missing secrets fail with `secret_not_found`."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import dagy
from dagy.secrets import SecretNotFound
from dagy.server.settings import Settings
from tests.factories import Caller, new_org, unique
from tests.flow_factories import python_node, register_flow, spec, trigger, wait_for_run
from tests.sdk.artifacts import write_zip

PASSWORD = "hunter2-Zx9-secret"

WAREHOUSE_MODULE = """
import dagy
from dagy import flow, get_run_logger, task


@task
def connect(user: str) -> dict:
    password = dagy.secrets.get("warehouse-password")
    get_run_logger().info("connecting with %s", password)
    return {"dsn": f"postgresql://{user}:{password}@db/warehouse", "length": len(password)}


@task
def peek() -> str:
    return dagy.secrets.get("undeclared")


@flow(name="warehouse")
def main(user: str = "etl", peek_undeclared: bool = False) -> dict:
    if peek_undeclared:
        peek()
    return connect(user)
"""


def add_secret(client: TestClient, caller: Caller, name: str, value: str) -> None:
    body = {"secret_name": name, "value": value}
    assert client.post("/v1/secrets", headers=caller.headers, json=body).status_code == 201


def register_code_flow(
    client: TestClient, settings: Settings, owner: Caller, declared: list[str]
) -> dict[str, Any]:
    name = unique("warehouse")
    key = f"dagy/flows/{owner.org_id}/{name}/1.zip"
    write_zip(settings.home / "objects" / key, {"warehouse.py": WAREHOUSE_MODULE})
    flow_spec = {"entrypoint": "warehouse:main", "secrets": declared}
    response = client.post(
        "/v1/flows",
        headers=owner.headers,
        json={"flow_name": name, "artifact_s3_uri": key, "flow_spec": flow_spec},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def logs(client: TestClient, owner: Caller, run_id: str) -> list[str]:
    events = client.get(f"/v1/runs/{run_id}/logs", headers=owner.headers).json()["events"]
    return [event["message"] for event in events]


def tasks(client: TestClient, owner: Caller, run_id: str) -> dict[str, dict[str, Any]]:
    rows = client.get(f"/v1/runs/{run_id}/tasks", headers=owner.headers).json()["items"]
    return {row["node_id"]: row for row in rows}


@pytest.mark.slow
def test_a_code_flow_reads_its_declared_secret_and_every_trace_of_it_is_masked(
    running: tuple[FastAPI, TestClient], settings: Settings
) -> None:
    app, client = running
    owner = new_org(app, client)
    add_secret(client, owner, "warehouse-password", PASSWORD)
    registered = register_code_flow(client, settings, owner, ["warehouse-password"])
    assert registered["warnings"] == []

    run = wait_for_run(client, owner, trigger(client, owner, registered["flow_name"])["run_id"])
    assert run["status"] == "completed", run
    assert run["output"] == {"dsn": "postgresql://etl:***@db/warehouse", "length": len(PASSWORD)}
    assert tasks(client, owner, run["run_id"])["connect-1"]["output"] == run["output"]
    messages = logs(client, owner, run["run_id"])
    assert any("connecting with ***" in m for m in messages), messages
    assert not any(PASSWORD in m for m in messages)


@pytest.mark.slow
def test_a_secret_the_flow_does_not_declare_fails_the_run_naming_it(
    running: tuple[FastAPI, TestClient], settings: Settings
) -> None:
    app, client = running
    owner = new_org(app, client)
    add_secret(client, owner, "warehouse-password", PASSWORD)
    add_secret(client, owner, "undeclared", PASSWORD)  # it exists, but the flow does not declare it
    registered = register_code_flow(client, settings, owner, ["warehouse-password"])

    run_id = trigger(client, owner, registered["flow_name"], parameters={"peek_undeclared": True})["run_id"]
    run = wait_for_run(client, owner, run_id)
    assert run["status"] == "failed"
    assert (run["error"]["type"], run["error"]["node_id"]) == ("secret_not_found", "peek-1")
    assert "does not declare secret 'undeclared'" in run["error"]["message"]
    assert PASSWORD not in str(run)


@pytest.mark.slow
def test_a_declared_secret_that_does_not_exist_is_a_warning_then_fails_the_run(
    running: tuple[FastAPI, TestClient], settings: Settings
) -> None:
    app, client = running
    owner = new_org(app, client)
    registered = register_code_flow(client, settings, owner, ["warehouse-password"])
    assert registered["warnings"] == [
        "secret 'warehouse-password' does not exist in this org yet: runs fail with secret_not_found "
        "until it is created"
    ]
    run = wait_for_run(client, owner, trigger(client, owner, registered["flow_name"])["run_id"])
    assert (run["status"], run["retry_count"]) == ("failed", 0)
    assert (run["error"]["type"], run["error"]["secret"]) == ("secret_not_found", "warehouse-password")


@pytest.mark.slow
def test_python_function_and_shell_command_read_secrets_masked_in_their_outputs(
    running: tuple[FastAPI, TestClient],
) -> None:
    app, client = running
    owner = new_org(app, client)
    add_secret(client, owner, "api-token", PASSWORD)
    code = (
        "import dagy\n"
        "def main(inputs, params):\n"
        "    token = dagy.secrets.get('api-token')\n"
        "    print('calling with', token)\n"
        "    return {'header': 'Bearer ' + token, 'length': len(token)}\n"
    )
    shell = {
        "id": "shell",
        "type": "shell_command",
        "data": {
            "command": 'echo "token=$TOKEN length=${#TOKEN}"',
            "env": {"TOKEN": {"secret": "api-token"}},
        },
    }
    flow_spec = spec(python_node("code", code), shell) | {"secrets": ["api-token"]}
    name = register_flow(client, owner, flow_spec)

    run = wait_for_run(client, owner, trigger(client, owner, name)["run_id"])
    assert run["status"] == "completed", run
    outputs = {node_id: row["output"] for node_id, row in tasks(client, owner, run["run_id"]).items()}
    assert outputs == {
        "code": {"header": "Bearer ***", "length": len(PASSWORD)},
        "shell": f"token=*** length={len(PASSWORD)}",
    }
    messages = logs(client, owner, run["run_id"])
    assert any("calling with ***" in m for m in messages), messages
    assert PASSWORD not in str(run) + str(messages)


def test_secrets_must_be_a_list_of_secret_names(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    cases = [
        ("warehouse-password", "flow_spec.secrets"),
        (["ok", "bad name!"], "flow_spec.secrets[1]"),
        (["twice", "twice"], "flow_spec.secrets"),
    ]
    for declared, field in cases:
        flow_spec = spec(python_node("code", "def main(inputs, params):\n    return 1\n")) | {
            "secrets": declared
        }
        response = client.post(
            "/v1/flows", headers=owner.headers, json={"flow_name": unique("f"), "flow_spec": flow_spec}
        )
        assert response.status_code == 400, response.text
        assert list(response.json()["details"]) == [field]


def test_a_shell_env_value_is_a_string_or_a_secret_reference(app: FastAPI, client: TestClient) -> None:
    owner = new_org(app, client)
    shell = {"id": "shell", "type": "shell_command", "data": {"command": "true", "env": {"N": 3}}}
    response = client.post(
        "/v1/flows", headers=owner.headers, json={"flow_name": unique("f"), "flow_spec": spec(shell)}
    )
    assert response.status_code == 400
    assert response.json()["details"] == {
        "flow_spec.nodes[0].data.env": 'value of N must be a string or {"secret": "<secret name>"}'
    }


def test_outside_a_run_a_secret_comes_from_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert dagy.secrets.environment_variable("warehouse-password.v2") == "DAGY_SECRET_WAREHOUSE_PASSWORD_V2"
    with pytest.raises(SecretNotFound, match="set the variable DAGY_SECRET_WAREHOUSE_PASSWORD"):
        dagy.secrets.get("warehouse-password")
    monkeypatch.setenv("DAGY_SECRET_WAREHOUSE_PASSWORD", "local")
    assert dagy.secrets.get("warehouse-password") == "local"
