"""Claim benchmark: how fast workers claim runs, with concurrency limits off and on.

`dagy server --no-worker` on a throw-away PostgreSQL database (and on SQLite with `--databases`).
Each round queues `--runs` runs of a one-node flow, then `--claimers` client threads act as
workers: each claims up to `--capacity` runs (`POST /v1/workers/claim`, no long poll) and reports
each claimed run completed at once, until the queue is empty. The figure is runs claimed per second
(runs / time from the first claim to the last) and the p50/p99 of one claim request.

- `off`: the org has no concurrency limit.
- `on`: every run falls under two limits that never fill: the flow's (`slots` 10,000) and a pool
  matching the flow's `python_function` node type (10,000), so each claim reads, locks and counts
  both limits and writes two slot rows per run.

Rounds alternate off/on (`--rounds` each) on one server; the median round of each is reported.

    python bench/claims.py [--runs 1000] [--claimers 4] [--capacity 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from lists import throwaway_postgres
from run import setup, start_server, stop

EXECUTOR = "flow-executor"


def queue_runs(base: str, headers: dict[str, str], count: int) -> None:
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:

        def post(_: int) -> None:
            client.post("/v1/runs", json={"flow_name": "bench-flow"}).raise_for_status()

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(post, range(count)))


def drain(base: str, worker: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
    """Claim and complete until the queue is empty: (runs/s, p50 and p99 claim ms)."""
    latencies: list[float] = []
    claimed = 0
    lock = threading.Lock()
    first = last = 0.0

    def claimer(index: int) -> None:
        nonlocal claimed, first, last
        body = {"worker_id": f"bench-{index}", "executor": EXECUTOR, "capacity": args.capacity}
        with httpx.Client(base_url=base, headers=worker, timeout=60) as client:
            while True:
                sent = time.perf_counter()
                answer = client.post("/v1/workers/claim", json=body)
                answer.raise_for_status()
                runs: list[dict[str, Any]] = answer.json()["runs"]
                took = time.perf_counter() - sent
                if not runs:
                    return
                with lock:
                    latencies.append(took)
                    claimed += len(runs)
                    first = first or sent
                    last = time.perf_counter()
                for run in runs:
                    done = {"worker_id": body["worker_id"], "attempt": run["attempt"], "status": "completed"}
                    client.post(f"/v1/workers/runs/{run['run_id']}/complete", json=done).raise_for_status()

    with ThreadPoolExecutor(args.claimers) as pool:
        list(pool.map(claimer, range(args.claimers)))
    ordered = sorted(latencies)
    return {
        "runs_per_s": claimed / (last - first),
        "claim_p50_ms": 1000 * ordered[len(ordered) // 2],
        "claim_p99_ms": 1000 * ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
        "runs": claimed,
    }


def set_limits(base: str, headers: dict[str, str], on: bool) -> None:
    limits = [
        ("flows/bench-flow", {"slots": 10_000}),
        ("pools/functions", {"slots": 10_000, "node_types": ["python_function"]}),
    ]
    for path, body in limits:
        url = f"{base}/v1/concurrency-limits/{path}"
        answer = httpx.put(url, json=body, headers=headers) if on else httpx.delete(url, headers=headers)
        if on or answer.status_code != 404:
            answer.raise_for_status()


def measure(database_url: str | None, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as home:
        env_home = Path(home)
        server = start_server(env_home, args.port, database_url=database_url, worker=False)
        base = f"http://127.0.0.1:{args.port}"
        try:
            token, org_id = setup(base, default_executor=EXECUTOR)
            headers = {"Authorization": f"Bearer {token}", "X-Org-Id": org_id}
            worker = {"Authorization": f"Bearer {(env_home / 'worker.token').read_text().strip()}"}
            rounds: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
            for _ in range(args.rounds):
                for mode in ("off", "on"):
                    set_limits(base, headers, on=mode == "on")
                    queue_runs(base, headers, args.runs)
                    rounds[mode].append(drain(base, worker, args))
                    print(mode, rounds[mode][-1], flush=True)
            return {mode: _median(results) for mode, results in rounds.items()}
        finally:
            stop(server)


def _median(results: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000, help="runs queued per round")
    parser.add_argument("--claimers", type=int, default=4, help="client threads claiming at once")
    parser.add_argument("--capacity", type=int, default=10, help="runs per claim")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each mode")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--databases", default="postgres", help="postgres, sqlite or both, comma-separated")
    parser.add_argument("--postgres-server", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    for database in args.databases.split(","):
        if database == "sqlite":
            result = measure(None, args)
        else:
            with throwaway_postgres(args.postgres_server) as url:
                result = measure(url, args)
        off, on = result["off"], result["on"]
        print(
            f"{database}: off {off['runs_per_s']:.0f} runs/s (claim p50 {off['claim_p50_ms']:.1f} ms, "
            f"p99 {off['claim_p99_ms']:.1f}); on {on['runs_per_s']:.0f} runs/s "
            f"(p50 {on['claim_p50_ms']:.1f}, p99 {on['claim_p99_ms']:.1f}); "
            f"on/off {on['runs_per_s'] / off['runs_per_s']:.3f}"
        )


if __name__ == "__main__":
    main()
