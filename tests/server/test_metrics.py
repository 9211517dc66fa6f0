"""`GET /metrics`: Prometheus text, requests by route template, the database gauges, the token."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from dagy.server.settings import Settings
from tests.factories import Caller
from tests.flow_factories import (
    claim_runs,
    python_node,
    register_flow,
    spec,
    trigger,
    worker_headers,
    worker_post,
)
from tests.worker.live import serving

pytestmark = pytest.mark.settings("own_pool_settings")

OK = "def main(inputs, params):\n    return params\n"
TOKEN = "metrics-token-of-the-test"


def scrape(client: TestClient, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of one scrape, parsed as Prometheus parses it."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_count_under_their_route_template(client: TestClient, owner: Caller) -> None:
    missing = "run_0000000000000000000000missing"
    assert client.get(f"/v1/runs/{missing}", headers=owner.headers).status_code == 404
    client.get("/v1/health")
    client.get("/metrics")  # not counted
    response = client.get("/metrics")
    samples = scrape(client)
    assert (
        value(samples, "dagy_http_requests_total", method="GET", route="/v1/runs/{run_id}", status="404") == 1
    )
    assert value(samples, "dagy_http_requests_total", method="GET", route="/v1/health", status="200") == 1
    latency = value(
        samples, "dagy_http_request_duration_seconds_count", method="GET", route="/v1/runs/{run_id}"
    )
    assert latency == 1
    assert missing not in response.text
    assert not any(dict(labels).get("route") == "/metrics" for _, labels in samples)
    assert value(samples, "dagy_database_metrics_up") == 1


def test_runs_show_in_the_gauges_as_they_go(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    first, second = (trigger(client, owner, flow)["run_id"] for _ in range(2))
    samples = scrape(client)
    assert value(samples, "dagy_runs", status="queued", executor=pool) == 2
    assert value(samples, "dagy_runs", status="running", executor=pool) == 0
    assert value(samples, "dagy_run_queue_depth", executor=pool) == 2
    assert value(samples, "dagy_run_queue_oldest_age_seconds", executor=pool) >= 0
    assert value(samples, "dagy_workers_online", executor=pool) == 0

    [claimed] = claim_runs(client, worker_headers(settings), pool, capacity=1)
    samples = scrape(client)
    assert value(samples, "dagy_runs", status="queued", executor=pool) == 1
    assert value(samples, "dagy_runs", status="running", executor=pool) == 1
    assert value(samples, "dagy_workers_online", executor=pool) == 1
    assert 0 <= value(samples, "dagy_worker_last_heartbeat_age_seconds", executor=pool) < 60

    done = worker_post(
        client,
        settings,
        claimed["run_id"],
        "complete",
        {"worker_id": "w1", "attempt": 1, "status": "completed"},
    )
    assert done.status_code == 200 and done.json()["status"] == "completed", done.text
    samples = scrape(client)
    assert value(samples, "dagy_runs", status="running", executor=pool) == 0
    assert value(samples, "dagy_runs", status="queued", executor=pool) == 1
    assert claimed["run_id"] in {first, second}
    for name in (
        "dagy_scheduler_lag_seconds",
        "dagy_alert_outbox_pending",
        "dagy_alert_outbox_oldest_due_age_seconds",
    ):
        assert (name, ()) in samples
    assert ("dagy_sensor_check_lag_seconds", (("sensor_type", "polling"),)) in samples


@pytest.mark.settings(metrics_token=SecretStr(TOKEN))
def test_the_token_is_required_when_set(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.json()["error"] == "unauthorized"
        assert set(refused.json()) == {"error", "message", "details"}
    assert scrape(client, Authorization=f"Bearer {TOKEN}")


@pytest.mark.settings(metrics_token=SecretStr(TOKEN))
def test_nothing_secret_or_org_specific_is_exposed(
    client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    run_id = trigger(client, owner, flow)["run_id"]
    claim_runs(client, worker_headers(settings), pool, worker_id="secret-worker-name")
    client.get(f"/v1/runs/{run_id}", headers=owner.headers)
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert settings.worker_token is not None
    for secret in (TOKEN, settings.worker_token.get_secret_value(), owner.token, owner.org_id, owner.email):
        assert secret not in text
    for identifier in (run_id, flow, "secret-worker-name"):
        assert identifier not in text


def test_two_processes_sum_their_counters_and_read_the_database_once(
    client: TestClient, settings: Settings, owner: Caller, pool: str, tmp_path: Path
) -> None:
    """`dagy server --processes 2`: each process counts its own requests into the parent's folder;
    a scrape, whichever process answers it, sums both and reads the database gauges once."""
    if settings.is_sqlite:
        pytest.skip("several server processes are PostgreSQL's")
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    for _ in range(3):
        trigger(client, owner, flow)
    with serving(settings, tmp_path, "--processes", "2") as (url, process):
        children = [
            c for c in psutil.Process(process.pid).children() if "spawn_main" in " ".join(c.cmdline())
        ]
        assert len(children) == 2
        folder = Path(children[0].environ()["PROMETHEUS_MULTIPROC_DIR"])

        def health(_: int) -> int:
            return httpx.get(f"{url}/v1/health", timeout=10).status_code  # a connection of its own

        sent, deadline = 0, time.monotonic() + 30
        counted_by = set()
        while len(counted_by) < 2:  # until both processes have answered some
            assert time.monotonic() < deadline, f"one process answered every request: {counted_by}"
            with ThreadPoolExecutor(8) as threads:
                assert set(threads.map(health, range(40))) == {200}
            sent += 40
            counted_by = {f.stem.split("_")[-1] for f in folder.glob("counter_*.db")}
        assert counted_by == {str(c.pid) for c in children}
        for _ in range(4):  # any process may answer the scrape: each sums both
            response = httpx.get(f"{url}/metrics", timeout=10)
            assert response.status_code == 200
            samples = {
                (sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(response.text)
                for sample in family.samples
            }
            assert (
                value(samples, "dagy_http_requests_total", method="GET", route="/v1/health", status="200")
                == sent
            )
            assert value(samples, "dagy_database_metrics_up") == 1
            assert value(samples, "dagy_runs", status="queued", executor=pool) == 3
            assert value(samples, "dagy_run_queue_depth", executor=pool) == 3
    assert not folder.exists()  # the parent removed it at exit
