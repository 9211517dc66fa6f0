"""Dispatch benchmark: how fast a triggered run completes, and how many runs workers complete.

(b) Latency: `dagy server` (SQLite, its embedded worker) runs a one-node flow (a `python_function`
    returning a constant) 200 times, one trigger after the other. Each run's latency is its
    `completed_at` (written by the server when the worker reports the result) minus the client's
    clock just before it sent `POST /v1/runs` (same host, same clock); the client polls
    `GET /v1/runs/{id}` every 5 ms only to learn when to send the next trigger. p50/p99 of the
    latency, of the wait in the queue (`started_at - created_at`) and of the execution
    (`completed_at - started_at`).
(c) Throughput: `dagy server --no-worker` and two `dagy worker --executor flow-executor`
    processes; 1,000 runs of the same flow are triggered (16 client threads) and the figure is
    1,000 / (last `completed_at` - first `created_at`). On SQLite and on a throw-away PostgreSQL
    database.

    python bench/dispatch.py [--runs 200] [--throughput-runs 1000] [--only latency|throughput]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from run import setup, start_server, stop

TERMINAL = {"completed", "failed", "cancelled"}


def at(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure_latency(args: argparse.Namespace) -> dict[str, Any]:
    base = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory() as home:
        server = start_server(Path(home), args.port, worker=True, isolation=getattr(args, "isolation", None))
        try:
            token, org_id = setup(base)
            headers = {"Authorization": f"Bearer {token}", "X-Org-Id": org_id}
            latency, queued, executed = [], [], []
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                for _ in range(args.warmup + args.runs):
                    sent = time.time()
                    answer = client.post("/v1/runs", json={"flow_name": "bench-flow"})
                    answer.raise_for_status()
                    run = wait(client, answer.json()["run_id"])
                    if run["status"] != "completed":
                        raise RuntimeError(f"run {run['run_id']} ended {run['status']}: {run['error']}")
                    latency.append(at(run["completed_at"]) - sent)
                    queued.append(at(run["started_at"]) - at(run["created_at"]))
                    executed.append(at(run["completed_at"]) - at(run["started_at"]))
            cut = args.warmup
            return {
                "trigger to completed": latency[cut:],
                "queued (created to started)": queued[cut:],
                "executing (started to completed)": executed[cut:],
            }
        finally:
            stop(server)


def wait(client: httpx.Client, run_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"/v1/runs/{run_id}").json()
        if run["status"] in TERMINAL:
            return run
        time.sleep(0.005)
    raise RuntimeError(f"run {run_id} did not finish in {timeout} s")


def measure_throughput(database_url: str | None, args: argparse.Namespace) -> dict[str, float]:
    base = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory() as home:
        server = start_server(Path(home), args.port, database_url=database_url, worker=False)
        workers: list[subprocess.Popen[bytes]] = []
        try:
            token, org_id = setup(base, default_executor="flow-executor")
            worker_token = (Path(home) / "worker.token").read_text().strip()
            dagy = Path(sys.executable).with_name("dagy")
            env = os.environ | {"DAGY_WORKER_TOKEN": worker_token, "DAGY_LOG_LEVEL": "warning"}
            if getattr(args, "isolation", None):
                env["DAGY_ISOLATION"] = args.isolation
            for i in range(args.workers):
                command = [str(dagy), "worker", "--url", base, "--executor", "flow-executor"]
                command += ["--concurrency", str(args.concurrency), "--worker-id", f"bench-{i}"]
                workers.append(
                    subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                )
            headers = {"Authorization": f"Bearer {token}", "X-Org-Id": org_id}
            started = time.time()
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                with ThreadPoolExecutor(16) as threads:
                    answers = list(
                        threads.map(
                            lambda _: client.post("/v1/runs", json={"flow_name": "bench-flow"}),
                            range(args.throughput_runs),
                        )
                    )
                triggered = time.time() - started
                if any(a.status_code != 202 for a in answers):
                    raise RuntimeError("a trigger was refused")
                runs = wait_all(client, args.throughput_runs)
            completed = [r for r in runs if r["status"] == "completed"]
            first = min(at(r["created_at"]) for r in runs)
            last = max(at(r["completed_at"]) for r in runs)
            return {
                "runs": len(runs),
                "completed": len(completed),
                "seconds": last - first,
                "runs_per_second": len(completed) / (last - first),
                "trigger_seconds": triggered,
            }
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=60)
            stop(server)


def wait_all(client: httpx.Client, expected: int, timeout: float = 1800) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [
            client.get("/v1/runs", params={"status": s, "limit": 1}).json()["items"]
            for s in ("queued", "running")
        ]
        if not any(busy):
            break
        time.sleep(0.5)
    runs: list[dict[str, Any]] = []
    next_token = None
    while True:
        params = {"limit": 100} | ({"next_token": next_token} if next_token else {})
        page = client.get("/v1/runs", params=params).json()
        runs += page["items"]
        next_token = page.get("next_token")
        if not next_token:
            break
    if len(runs) != expected:
        raise RuntimeError(f"expected {expected} runs, found {len(runs)}")
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200, help="sequential runs for the latency")
    parser.add_argument("--warmup", type=int, default=5, help="runs before the measured ones")
    parser.add_argument("--throughput-runs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="`dagy worker` processes")
    parser.add_argument("--concurrency", type=int, default=4, help="runs each worker executes at once")
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--only", choices=["latency", "throughput"])
    parser.add_argument(
        "--isolation", choices=["strict", "best", "off"], help="DAGY_ISOLATION of the workers"
    )
    parser.add_argument("--databases", default="sqlite,postgres", help="for the throughput")
    parser.add_argument(
        "--postgres-server",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="where the throw-away PostgreSQL database is created",
    )
    args = parser.parse_args()
    if args.only != "throughput":
        print(f"\n== latency, {args.runs} sequential runs, embedded worker, SQLite")
        print("| measure | p50 ms | p99 ms | mean ms |\n|---|---:|---:|---:|")
        for name, values in measure_latency(args).items():
            ms = [v * 1000 for v in values]
            p50, p99, mean = percentile(ms, 0.5), percentile(ms, 0.99), statistics.mean(ms)
            print(f"| {name} | {p50:.0f} | {p99:.0f} | {mean:.0f} |")
    if args.only != "latency":
        from lists import throwaway_postgres  # noqa: PLC0415 - lists.py imports run.py, as this does

        fleet = f"{args.workers} x `dagy worker --concurrency {args.concurrency}`"
        print(f"\n== throughput, {args.throughput_runs} runs, {fleet}")
        print("| database | runs/s | completed | seconds | triggering took s |\n|---|---:|---:|---:|---:|")
        for database in args.databases.split(","):
            if database == "sqlite":
                figures = measure_throughput(None, args)
            else:
                with throwaway_postgres(args.postgres_server) as url:
                    figures = measure_throughput(url, args)
            done = f"{figures['completed']:.0f}/{figures['runs']:.0f}"
            print(
                f"| {database} | {figures['runs_per_second']:.1f} | {done} "
                f"| {figures['seconds']:.1f} | {figures['trigger_seconds']:.1f} |"
            )


if __name__ == "__main__":
    main()
