"""The Prefect 3 side of bench/engine.py, run with bench/peers/.venv-prefect/bin/python so that
Dagy's benchmark process never imports Prefect. Each measure starts its own `prefect server start`
(SQLite in a fresh PREFECT_HOME, a free port, UI and telemetry off), prints one JSON line that
starts with `{"measure"` and stops the server.

    latency --runs 20       a deployment of a one-task flow, served by one process worker
                            (`prefect worker start --pool bench --type process`, default polling:
                            every 10 s, 10 s ahead); runs created one after another through the
                            API; creation (client clock before the POST) to the run's end_time
    throughput --runs 100   the same deployment, 2 process workers (`--limit 4` each, like Dagy's
                            `--concurrency 4`); runs created by 16 client threads; completed /
                            (last end_time - first created)
    tasks --tasks 1000      a flow of 1,000 trivial tasks called in a row, in this process, against
                            the server; tasks / (time the server reports all task runs completed -
                            the flow run's start_time)
    serve                   a server with the deployment (no worker); prints its API URL, the
                            deployment's and its flow's ids, then serves until stdin closes
                            (bench/engine.py runs wrk against it)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
PREFECT = Path(sys.executable).with_name("prefect")
TERMINAL = ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def at(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ends a process started in a session of its own, with its children (uvicorn, flow runs)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def prefect_server() -> Iterator[tuple[str, Path]]:
    """A `prefect server start` on SQLite in a temporary PREFECT_HOME; (API URL, home). This
    process's own Prefect settings point at it (set before Prefect is imported)."""
    with tempfile.TemporaryDirectory(prefix="prefect-bench-") as home:
        port = free_port()
        api = f"http://127.0.0.1:{port}/api"
        os.environ.update(
            {
                "PREFECT_HOME": home,
                "PREFECT_API_URL": api,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_UI_ENABLED": "false",
                "PREFECT_LOGGING_LEVEL": "WARNING",
            }
        )
        log = (Path(home) / "server.log").open("wb")
        command = [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(
                        f"the Prefect server did not start: {Path(home, 'server.log').read_text()}"
                    )
                time.sleep(0.5)
            yield api, Path(home)
        finally:
            stop(server)
            log.close()


def deploy(home: Path) -> str:
    """A process work pool `bench` and a deployment of the one-task flow from this directory."""
    subprocess.run(
        [str(PREFECT), "work-pool", "create", "bench", "--type", "process"],
        check=True,
        capture_output=True,
    )
    from prefect import flow  # noqa: PLC0415 - after the settings point at the server

    source = flow.from_source(source=str(HERE), entrypoint="prefect_engine_flows.py:one_task")
    deployment_id = source.deploy(
        name="bench", work_pool_name="bench", print_next_steps=False, ignore_warnings=True
    )
    return str(deployment_id)


def start_workers(home: Path, count: int, limit: int | None) -> list[subprocess.Popen[bytes]]:
    workers = []
    for i in range(count):
        command = [str(PREFECT), "worker", "start", "--pool", "bench", "--type", "process"]
        command += ["--name", f"bench-{i}", *(["--limit", str(limit)] if limit else [])]
        log = (home / f"worker-{i}.log").open("wb")
        workers.append(
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        )
    return workers


def call(client: httpx.Client, method: str, url: str, retries: list[int], **kwargs: Any) -> httpx.Response:
    """One API call as Prefect's own client makes it: a 503 (on SQLite, 'database is locked') or a
    connection the server closed after one is retried with a back-off; `retries[0]` counts them."""
    for attempt in range(20):
        try:
            answer = client.request(method, url, **kwargs)
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError):
            answer = None
        if answer is not None and answer.status_code != 503:
            answer.raise_for_status()
            return answer
        retries[0] += 1
        time.sleep(min(0.1 * 2**attempt, 5))
    raise RuntimeError(f"{method} {url} failed 20 times")


def wait_run(client: httpx.Client, run_id: str, retries: list[int], timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = call(client, "GET", f"/flow_runs/{run_id}", retries).json()
        if run["state_type"] in TERMINAL and run.get("end_time"):
            return run
        time.sleep(0.05)
    raise RuntimeError(f"flow run {run_id} did not finish in {timeout} s")


def latency(runs: int, warmup: int) -> dict[str, Any]:
    with prefect_server() as (api, home):
        deployment_id = deploy(home)
        workers = start_workers(home, 1, None)
        try:
            figures: dict[str, list[float]] = {"trigger to completed": [], "queued": [], "executing": []}
            retries = [0]
            with httpx.Client(base_url=api, timeout=60) as client:
                for i in range(warmup + runs):
                    sent = time.time()
                    url = f"/deployments/{deployment_id}/create_flow_run"
                    answer = call(client, "POST", url, retries, json={})
                    run = wait_run(client, answer.json()["id"], retries)
                    if run["state_type"] != "COMPLETED":
                        raise RuntimeError(f"flow run ended {run['state_type']}")
                    if i >= warmup:
                        figures["trigger to completed"].append(at(run["end_time"]) - sent)
                        figures["queued"].append(at(run["start_time"]) - at(run["created"]))
                        figures["executing"].append(at(run["end_time"]) - at(run["start_time"]))
            return {
                name: {
                    "p50_ms": percentile(values, 0.5) * 1000,
                    "p99_ms": percentile(values, 0.99) * 1000,
                    "mean_ms": statistics.mean(values) * 1000,
                }
                for name, values in figures.items()
            } | {
                "runs": runs,
                "worker": "1 x prefect worker start --type process (query every 10 s)",
                "retries": retries[0],
            }
        finally:
            for worker in workers:
                stop(worker)


def throughput(runs: int, worker_count: int, limit: int) -> dict[str, Any]:
    with prefect_server() as (api, home):
        deployment_id = deploy(home)
        workers = start_workers(home, worker_count, limit)
        try:
            with httpx.Client(base_url=api, timeout=120) as client:
                started = time.time()
                retries = [0]

                def create(_: int) -> None:
                    call(client, "POST", f"/deployments/{deployment_id}/create_flow_run", retries, json={})

                with ThreadPoolExecutor(16) as threads:
                    list(threads.map(create, range(runs)))
                created_seconds = time.time() - started
                done = {"flow_runs": {"state": {"type": {"any_": TERMINAL}}}}
                deadline = time.monotonic() + 3600
                while call(client, "POST", "/flow_runs/count", retries, json=done).json() < runs:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the runs did not finish in an hour")
                    time.sleep(1)
                items: list[dict[str, Any]] = []
                while len(items) < runs:
                    body = {"limit": 200, "offset": len(items)}
                    page = call(client, "POST", "/flow_runs/filter", retries, json=body).json()
                    if not page:
                        break
                    items += page
            completed = [r for r in items if r["state_type"] == "COMPLETED"]
            first = min(at(r["created"]) for r in items)
            last = max(at(r["end_time"]) for r in items if r.get("end_time"))
            return {
                "runs": len(items),
                "completed": len(completed),
                "seconds": last - first,
                "runs_per_second": len(completed) / (last - first),
                "trigger_seconds": created_seconds,
                "retries": retries[0],
                "workers": f"{worker_count} x prefect worker start --type process --limit {limit}",
            }
        finally:
            for worker in workers:
                stop(worker)


def tasks(count: int) -> dict[str, Any]:
    with prefect_server() as (api, _):
        sys.path.insert(0, str(HERE))
        import prefect_engine_flows  # noqa: PLC0415 - after the settings point at the server

        prefect_engine_flows.many_tasks(3)  # warm-up: first-call costs are not per task
        called = time.time()
        flow_run_id = prefect_engine_flows.many_tasks(count)
        returned = time.time()
        done = {
            "flow_runs": {"id": {"any_": [flow_run_id]}},
            "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
        }
        with httpx.Client(base_url=api, timeout=60) as client:
            deadline = time.monotonic() + 1800
            recorded = 0
            while recorded < count and time.monotonic() < deadline:
                recorded = client.post("/task_runs/count", json=done).json()
                if recorded < count:
                    time.sleep(0.1)
            all_recorded = time.time()
            run = client.get(f"/flow_runs/{flow_run_id}").json()
        started = at(run["start_time"])
        return {
            "tasks": count,
            "recorded": recorded,
            "seconds": all_recorded - started,
            "per_second": recorded / (all_recorded - started),
            "flow_call_seconds": returned - called,
        }


def serve() -> None:
    with prefect_server() as (api, home):
        deployment_id = deploy(home)
        flow_id = httpx.get(f"{api}/deployments/{deployment_id}").json()["flow_id"]
        served = {"measure": "serve", "api": api, "deployment_id": deployment_id, "flow_id": flow_id}
        print(json.dumps(served), flush=True)
        sys.stdin.read()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("measure", choices=["latency", "throughput", "tasks", "serve"])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=4, help="flow runs each worker runs at once")
    parser.add_argument("--tasks", type=int, default=1000)
    args = parser.parse_args()
    if args.measure == "serve":
        serve()
        return
    if args.measure == "latency":
        result = latency(args.runs, args.warmup)
    elif args.measure == "throughput":
        result = throughput(args.runs, args.workers, args.limit)
    else:
        result = tasks(args.tasks)
    import prefect  # noqa: PLC0415

    print(json.dumps({"measure": args.measure, "version": prefect.__version__} | result), flush=True)


if __name__ == "__main__":
    main()
