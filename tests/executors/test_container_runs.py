"""The `docker` container executor end to end, on a real Podman engine (conftest.py): a real
`dagy server` whose background services claim the executor's runs and launch one container per
attempt; in it a real `dagy execute-run` reports with the attempt's token. Cancelling removes the
container; a container killed under its run fails the attempt, and the retry completes in a new one;
no ended run leaves a container behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dagy.server.db.migrate import upgrade
from dagy.server.executors.containers import LABEL_RUN
from dagy.server.settings import Settings
from tests.factories import new_org
from tests.flow_factories import python_node, spec
from tests.worker.live import api_for, finished, register, serving, wait

# Real processes end to end; what they test does not depend on the database (its own tests run on both).
pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

SLEEPER = """
import time

def main(inputs, params):
    print("started", flush=True)
    time.sleep(params["sleep"])
    return {"slept": params["sleep"]}
"""
WITH_SECRET = """
import dagy

def main(inputs, params):
    token = dagy.secrets.get("api-token")
    print("using", token, flush=True)
    return {"length": len(token), "n": params["n"]}
"""


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """A database file of the test's own on SQLite: the test's `dagy server` writes it too."""
    if not settings.is_sqlite:
        return settings
    url = f"sqlite:///{tmp_path / 'dagy.db'}"
    upgrade(url)
    return settings.model_copy(update={"database_url": url})


@pytest.fixture
def engine(podman_engine: Any) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=podman_engine.url)
    yield client
    client.close()


@pytest.fixture
def server(settings: Settings, app: FastAPI, tmp_path: Path, podman_engine: Any) -> Iterator[str]:
    extra = {
        "DAGY_DOCKER_URL": podman_engine.url,
        "DAGY_DOCKER_NETWORK": "host",
        "DAGY_DOCKER_VOLUMES": ",".join(podman_engine.volumes),
        "DAGY_CONTAINER_IMAGE": podman_engine.image,
        "DAGY_ALLOW_PRIVATE_NETWORK": "true",
    }
    with serving(settings, tmp_path, extra_env=extra) as (url, _process):
        # Run containers share the host's network: they reach the API where the test does.
        yield url


def containers_of(engine: docker.DockerClient, run_id: str) -> list[Any]:
    # Sparse: no inspection of each, which races with the services removing it.
    return list(engine.containers.list(all=True, sparse=True, filters={"label": f"{LABEL_RUN}={run_id}"}))


def log_lines(api: httpx.Client, run_id: str) -> list[str]:
    return [e["message"] for e in api.get(f"/runs/{run_id}/logs").json()["events"]]


def test_a_run_executes_in_a_container_of_its_own_and_leaves_none(
    app: FastAPI, client: TestClient, server: str, engine: docker.DockerClient
) -> None:
    owner = new_org(app, client)
    api = api_for(server, owner)
    assert api.post("/secrets", json={"secret_name": "api-token", "value": "s3cr3t-value"}).status_code == 201
    flow = register(api, spec(python_node("uses_secret", WITH_SECRET)) | {"secrets": ["api-token"]}, "docker")
    run_id = api.post("/runs", json={"flow_name": flow, "parameters": {"n": 7}}).json()["run_id"]

    run = finished(api, run_id, 90)
    assert (run["status"], run["output"]) == ("completed", {"length": 12, "n": 7}), (
        run,
        log_lines(api, run_id),
    )
    lines = log_lines(api, run_id)
    assert any("Attempt 1 started on worker docker-launcher" in line for line in lines), lines
    assert any("using ***" in line for line in lines) and "s3cr3t-value" not in str(lines), lines
    wait(lambda: not containers_of(engine, run_id), 30, "the run's container to be removed")
    backends = {b["name"]: b for b in api.get("/backends").json()}
    docker_backend = backends["docker"]
    assert (docker_backend["available"], docker_backend["launcher"]) == (True, "docker")
    assert docker_backend["max_concurrent_runs"] == 16


def test_cancelling_removes_the_container(
    app: FastAPI, client: TestClient, server: str, engine: docker.DockerClient
) -> None:
    owner = new_org(app, client)
    api = api_for(server, owner)
    flow = register(api, spec(python_node("sleeper", SLEEPER)), "docker")
    run_id = api.post("/runs", json={"flow_name": flow, "parameters": {"sleep": 120}}).json()["run_id"]
    wait(lambda: "started" in log_lines(api, run_id), 90, "the run to start in its container")
    assert len(containers_of(engine, run_id)) == 1

    assert api.post(f"/runs/{run_id}/cancel").status_code in (200, 202)
    wait(lambda: api.get(f"/runs/{run_id}").json()["status"] == "cancelled", 30, "the cancel")
    wait(lambda: not containers_of(engine, run_id), 30, "the cancelled run's container to be removed")


def test_a_container_killed_under_its_run_fails_the_attempt_and_the_retry_completes(
    app: FastAPI, client: TestClient, server: str, engine: docker.DockerClient
) -> None:
    owner = new_org(app, client)
    api = api_for(server, owner)
    flow = register(api, spec(python_node("sleeper", SLEEPER)), "docker")
    body = {"flow_name": flow, "parameters": {"sleep": 3}, "max_retries": 1}
    run_id = api.post("/runs", json=body).json()["run_id"]
    wait(lambda: "started" in log_lines(api, run_id), 90, "the first attempt to start")
    [first] = containers_of(engine, run_id)
    first.kill()

    run = finished(api, run_id, 120)
    assert (run["status"], run["output"], run["retry_count"]) == ("completed", {"slept": 3}, 1), run
    lines = log_lines(api, run_id)
    assert lines.count("started") == 2
    assert any("container_failed" in line or "container failed" in line for line in lines), lines
    wait(lambda: not containers_of(engine, run_id), 30, "both attempts' containers to be removed")
