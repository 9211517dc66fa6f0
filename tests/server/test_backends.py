"""Worker pools (`DAGY_WORKER_POOLS`) through HTTP: `/backends` lists them after the built-in
executors, and flows, deployments, environments and runs may name them. Any other name is a 400
that names the field and lists every executor the installation has."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from dagy.server.app import create_app
from dagy.server.settings import Settings
from tests.factories import Caller, unique
from tests.flow_factories import claim_runs, python_node, register_flow, spec, worker_headers

OK = "def main(inputs, params):\n    return params\n"
POOLS = ["gpu", "eu-west"]
AVAILABLE = (
    "one of dask, docker, ecs, eu-west, flow-executor, gpu, kubernetes, lambda, local, step-functions, "
    "or empty for automatic"
)

pytestmark = pytest.mark.settings(worker_pools=POOLS)


def created(client: TestClient, caller: Caller, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/v1{path}", headers=caller.headers, json=body)
    assert response.status_code in (201, 202), response.text
    result: dict[str, Any] = response.json()
    return result


def refused(response: Any, field: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_input"
    assert response.json()["details"] == {field: AVAILABLE}


def test_backends_list_the_pools_after_the_built_in_executors(client: TestClient, owner: Caller) -> None:
    response = client.get("/v1/backends", headers=owner.headers)
    assert response.status_code == 200
    backends = {b["name"]: b for b in response.json()}
    built_in = ["local", "flow-executor", "lambda", "ecs", "step-functions", "kubernetes", "docker", "dask"]
    assert list(backends) == [*built_in, "gpu", "eu-west"]
    gpu, fleet = backends["gpu"], backends["flow-executor"]
    launchers = {name: b["launcher"] for name, b in backends.items()}
    containers = {"kubernetes": "kubernetes", "docker": "docker"}
    assert launchers == {name: "worker" for name in backends} | containers
    # No cluster and no engine configured: nothing launches their runs.
    for name in ("kubernetes", "docker"):
        assert (backends[name]["available"], backends[name]["workers"]) == (False, 0)
    assert gpu["capabilities"] == fleet["capabilities"]
    assert (gpu["available"], gpu["workers"], gpu["max_concurrent_runs"]) == (False, 0, 0)
    assert (gpu["max_timeout_seconds"], gpu["execution_modes"]) == (
        fleet["max_timeout_seconds"],
        fleet["execution_modes"],
    )
    assert "`dagy worker --executor gpu`" in gpu["description"]


def test_a_flow_version_names_a_pool(client: TestClient, owner: Caller) -> None:
    body = {"flow_name": unique("flow"), "flow_spec": spec(python_node("only", OK))}
    refused(
        client.post("/v1/flows", headers=owner.headers, json=body | {"default_executor": "tpu"}),
        "default_executor",
    )
    deployment = unique("dep")
    name = register_flow(
        client, owner, spec(python_node("only", OK)), default_executor="gpu", deployment_name=deployment
    )
    assert client.get(f"/v1/flows/{name}/latest", headers=owner.headers).json()["default_executor"] == "gpu"
    assert (
        client.get(f"/v1/deployments/{deployment}", headers=owner.headers).json()["default_executor"] == "gpu"
    )


def test_a_deployment_names_a_pool(client: TestClient, owner: Caller) -> None:
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    body = {"name": unique("dep"), "flow_name": flow}
    refused(
        client.post("/v1/deployments", headers=owner.headers, json=body | {"default_executor": "tpu"}),
        "default_executor",
    )
    created = client.post(
        "/v1/deployments", headers=owner.headers, json=body | {"default_executor": "eu-west"}
    )
    assert created.status_code == 201 and created.json()["default_executor"] == "eu-west"
    path = f"/v1/deployments/{body['name']}/settings"
    refused(client.put(path, headers=owner.headers, json={"default_executor": "tpu"}), "default_executor")
    changed = client.put(path, headers=owner.headers, json={"default_executor": "gpu"})
    assert changed.status_code == 200 and changed.json()["default_executor"] == "gpu"


def test_an_environment_names_a_pool(client: TestClient, owner: Caller) -> None:
    name = unique("env")
    body = {"env_name": name, "default_executor": "tpu"}
    refused(client.post("/v1/environments", headers=owner.headers, json=body), "default_executor")
    created = client.post("/v1/environments", headers=owner.headers, json=body | {"default_executor": "gpu"})
    assert created.status_code == 201 and created.json()["default_executor"] == "gpu"
    path = f"/v1/environments/{name}"
    refused(client.patch(path, headers=owner.headers, json={"default_executor": "tpu"}), "default_executor")
    changed = client.patch(path, headers=owner.headers, json={"default_executor": "eu-west"})
    assert changed.status_code == 200 and changed.json()["default_executor"] == "eu-west"


def test_runs_go_to_the_pool_they_inherit_or_name(client: TestClient, owner: Caller) -> None:
    env = created(client, owner, "/environments", {"env_name": unique("env"), "default_executor": "gpu"})
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    body = {"name": unique("dep"), "flow_name": flow, "environment": env["env_name"]}
    deployment = created(client, owner, "/deployments", body)["name"]
    inherited = created(client, owner, "/runs", {"deployment": deployment})
    named = created(client, owner, "/runs", {"deployment": deployment, "executor": "eu-west"})
    executors = [
        client.get(f"/v1/runs/{r['run_id']}", headers=owner.headers).json()["executor"]
        for r in (inherited, named)
    ]
    assert executors == ["gpu", "eu-west"]
    unknown = client.post("/v1/runs", headers=owner.headers, json={"flow_name": flow, "executor": "tpu"})
    refused(unknown, "executor")


def test_a_promotion_copies_a_pool_the_installation_no_longer_lists(
    client: TestClient, owner: Caller, settings: Settings
) -> None:
    """Promotion copies the source's settings as stored: nothing new is chosen, so nothing is checked."""
    staging, production = (
        created(client, owner, "/environments", {"env_name": unique("env")}) for _ in range(2)
    )
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    source = unique("dep")
    body = {"name": source, "flow_name": flow, "environment": staging["env_name"], "default_executor": "gpu"}
    created(client, owner, "/deployments", body)

    without_pools = create_app(settings.model_copy(update={"worker_pools": []}), migrate=False)
    with TestClient(without_pools, client=("198.51.100.7", 50000)) as other:
        promoted = other.post(
            "/v1/environments/promote",
            headers=owner.headers,
            json={"source_deployment": source, "target_environment": production["env_name"]},
        )
        assert promoted.status_code == 201, promoted.text
        target = other.get(f"/v1/deployments/{promoted.json()['target_deployment']}", headers=owner.headers)
        assert target.json()["default_executor"] == "gpu"
        settings_change = other.put(
            f"/v1/deployments/{source}/settings", headers=owner.headers, json={"default_executor": "gpu"}
        )
        assert settings_change.status_code == 400
        assert settings_change.json()["details"] == {
            "default_executor": "one of dask, docker, ecs, flow-executor, kubernetes, lambda, local, "
            "step-functions, or empty for automatic"
        }


def test_the_references_service_names_are_worker_pools_and_backends_say_who_serves_them(
    client: TestClient, owner: Caller, settings: Settings
) -> None:
    """The reference's example environment (`"default_executor": "lambda"`) is accepted; `lambda`
    is served by `dagy worker --executor lambda` processes, and `/backends` shows them once one
    asks for runs."""
    env = client.post(
        "/v1/environments",
        headers=owner.headers,
        json={
            "env_name": unique("env"),
            "default_executor": "lambda",
            "config_json": {"region": "us-east-1"},
        },
    )
    assert env.status_code == 201, env.text
    assert env.json()["default_executor"] == "lambda"

    def lambda_backend() -> dict[str, Any]:
        found: dict[str, Any] = {
            b["name"]: b for b in client.get("/v1/backends", headers=owner.headers).json()
        }["lambda"]
        return found

    assert (lambda_backend()["available"], lambda_backend()["workers"]) == (False, 0)
    assert "`dagy worker --executor lambda`" in lambda_backend()["description"]
    assert claim_runs(client, worker_headers(settings), "lambda", worker_id="l1", capacity=8) == []
    assert claim_runs(client, worker_headers(settings), "lambda", worker_id="l2", capacity=4) == []
    backend = lambda_backend()
    assert (backend["available"], backend["workers"], backend["max_concurrent_runs"]) == (True, 2, 12)
    local = {b["name"]: b for b in client.get("/v1/backends", headers=owner.headers).json()}["local"]
    assert local["max_concurrent_runs"] == settings.worker_concurrency
