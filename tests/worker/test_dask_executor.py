"""`dagy worker --dask-address`: a real worker process (its runs isolated as `dagy worker --token`
isolates them) hands its runs' nodes to a real `distributed.LocalCluster` of two worker processes.

The worker here serves the test's own pool, not the executor named `dask`, so that another test
process's worker never takes these runs: which runs a worker claims is the executor name alone,
and what `--dask-address` does is the same whatever that name is.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from distributed import Client, LocalCluster
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.dask_cluster import local_cluster
from tests.factories import new_org
from tests.flow_factories import python_node, spec
from tests.worker.live import DAGY, Workers, finished
from tests.worker.live import api_for as _api
from tests.worker.live import register as _register
from tests.worker.live import wait as _wait

# Real processes end to end; what they test does not depend on the database (its own tests run on both).
pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

WHERE = """
import os, time
from distributed import get_worker

def main(inputs, params):
    print("printed by", os.getpid(), flush=True)
    started = time.time()
    time.sleep(1)
    return {"pid": os.getpid(), "worker": get_worker().address, "span": [started, time.time()]}
"""
JOIN = "import os\n\ndef main(inputs, params):\n    return {'seen': inputs, 'pid': os.getpid()}\n"
BOOM = "def main(inputs, params):\n    raise ValueError('row 7 is bad')\n"
FLAKY = """
from pathlib import Path

def main(inputs, params):
    tries = Path(params["counter"])
    tries.write_text(tries.read_text() + "x" if tries.exists() else "x")
    if len(tries.read_text()) < 3:
        raise ConnectionError("not yet")
    return len(tries.read_text())
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with local_cluster() as cluster:
        yield cluster


def _run(api: httpx.Client, flow: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.post("/runs", json={"flow_name": flow, "parameters": parameters or {}})
    assert response.status_code == 202, response.text
    return finished(api, response.json()["run_id"], 90)


def _log(api: httpx.Client, run_id: str) -> list[str]:
    return [e["message"] for e in api.get(f"/runs/{run_id}/logs", params={"limit": 1000}).json()["events"]]


def test_a_dask_worker_runs_its_runs_nodes_on_the_cluster(
    app: FastAPI, client: TestClient, workers: Workers, pool: str, cluster: LocalCluster
) -> None:
    owner = new_org(app, client)
    api = _api(workers.url, owner)
    with Client(cluster, set_as_default=False) as dask:
        pids: dict[str, int] = dask.run(os.getpid)  # the cluster's worker processes
    workers.start("w-dask", pool, options=("--dask-address", cluster.scheduler_address))

    joined = spec(
        python_node("a", WHERE),
        python_node("b", WHERE),
        python_node("c", JOIN),
        edges=(("a", "c"), ("b", "c")),
    )
    run = _run(api, _register(api, joined, pool))
    assert run["status"] == "completed", run.get("error")
    seen = run["output"]["seen"]
    assert {seen["a"]["worker"], seen["b"]["worker"]} == set(pids)  # independent nodes on both workers
    assert {seen["a"]["pid"], seen["b"]["pid"]} == set(pids.values())
    assert run["output"]["pid"] in pids.values()  # the dependent node too, with its upstreams' outputs
    (a_start, a_end), (b_start, b_end) = seen["a"]["span"], seen["b"]["span"]
    assert a_start < b_end and b_start < a_end, "the independent nodes did not run at once"
    lines = _log(api, run["run_id"])
    assert {f"printed by {pid}" for pid in pids.values()} <= set(lines)
    tasks = api.get(f"/runs/{run['run_id']}/tasks").json()["items"]
    assert {(t["node_id"], t["status"]) for t in tasks} == {
        ("a", "completed"),
        ("b", "completed"),
        ("c", "completed"),
    }

    # A large output is persisted through the run's HTTP object store (its connection made), and
    # the next node's context, that store in it, still crosses to the cluster.
    big = spec(
        python_node("big", "def main(inputs, params):\n    return 'x' * 300_000\n"),
        python_node("size", "def main(inputs, params):\n    return len(inputs['big'])\n"),
        edges=(("big", "size"),),
    )
    run = _run(api, _register(api, big, pool))
    assert (run["status"], run["output"]) == ("completed", 300_000), run.get("error")

    failing = spec(python_node("boom", BOOM), python_node("after", JOIN), edges=(("boom", "after"),))
    run = _run(api, _register(api, failing, pool))
    assert run["status"] == "failed"
    assert (run["error"]["message"], run["error"]["node_id"]) == ("ValueError: row 7 is bad", "boom")
    tasks = api.get(f"/runs/{run['run_id']}/tasks").json()["items"]
    assert {(t["node_id"], t["status"]) for t in tasks} == {("boom", "failed"), ("after", "skipped")}

    retried = spec(python_node("flaky", FLAKY, retries=2))
    run = _run(api, _register(api, retried, pool), {"counter": str(workers.tmp_path / "tries")})
    assert (run["status"], run["output"]) == ("completed", 3), run.get("error")
    lines = _log(api, run["run_id"])
    assert sum(line.startswith("[WARNING] Task flaky failed (try") for line in lines) == 2


HOLD = """
import time
from pathlib import Path

def main(inputs, params):
    folder = Path(params["folder"])
    (folder / f"{time.time_ns()}.started").touch()
    while not (folder / "stop").exists():
        time.sleep(0.02)
    return 1
"""


def _keys(dask: Client, prefix: str) -> list[str]:
    """The scheduler's tasks whose key starts with `prefix`."""
    keys: list[str] = dask.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])
    return [key for key in keys if key.startswith(prefix)]


def test_cancelling_a_run_drops_its_tries_from_the_cluster(
    app: FastAPI, client: TestClient, workers: Workers, pool: str, cluster: LocalCluster
) -> None:
    owner = new_org(app, client)
    api = _api(workers.url, owner)
    folder = workers.tmp_path / "holds"
    folder.mkdir()
    workers.start("w-dask", pool, options=("--dask-address", cluster.scheduler_address))
    held = spec(*(python_node(name, HOLD) for name in ("a", "b", "c")))  # 3 nodes, 2 Dask threads
    flow = _register(api, held, pool)
    run_id = api.post("/runs", json={"flow_name": flow, "parameters": {"folder": str(folder)}}).json()[
        "run_id"
    ]
    with Client(cluster, set_as_default=False) as dask:
        prefix = f"dagy-{run_id}-"
        _wait(
            lambda: len(list(folder.glob("*.started"))) == 2 and len(_keys(dask, prefix)) == 3,
            60,
            "2 of 3 tries",
        )

        assert api.post(f"/runs/{run_id}/cancel").json()["status"] == "cancelled"
        _wait(lambda: not _keys(dask, prefix), 20, "the scheduler to drop the cancelled run's tries")
        (folder / "stop").touch()  # the two running tries end; the third, never started, never starts
        _wait(
            lambda: not any(dask.run(lambda dask_worker: len(dask_worker.state.executing)).values()),
            20,
            "idle",
        )
    assert len(list(folder.glob("*.started"))) == 2


def test_the_dask_executor_needs_a_cluster_address() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DAGY_DASK_ADDRESS"}
    refused = subprocess.run(
        [DAGY, "worker", "--token", "t", "--executor", "dask"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "--dask-address" in refused.stderr and "DAGY_DASK_ADDRESS" in refused.stderr
