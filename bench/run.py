"""API throughput benchmark: `dagy server` under wrk, on loopback.

Measures requests/s and p50/p99 latency for `GET /v1/health` and an authenticated `GET /v1/me`
(SQLite, 16 connections), then `POST /v1/runs` at 10 and 50 connections on SQLite and on a
throw-away PostgreSQL database, with the embedded worker off and on (on: it claims and executes
runs while they are created). Each figure is the median of `--repeat` rounds; errors are wrk's
non-2xx answers plus its socket errors. Needs `wrk` (Debian package `wrk`).

    python bench/run.py [--duration 10] [--repeat 3] [--only reads|runs] [--databases sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
SUPERADMIN = "bench@dagy.test"


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    note: str = ""
    requests: int = 0
    server_cpu_ms: float | None = None  # the server process's CPU time per request, when measured
    non_2xx: int = 0  # answers that were not 2xx or 3xx (included in `requests`)
    socket_errors: int = 0  # connect, read, write and timeout errors (not in `requests`)
    seconds: float = 0.0  # the round's duration as wrk measured it


def _to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        raise ValueError(f"unexpected wrk latency {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(
    name: str,
    url: str,
    *,
    token: str | None,
    connections: int,
    duration: int,
    lua: Path | None = None,
    timeout: int | None = None,
) -> Result:
    """One wrk round; `timeout` (s) replaces wrk's default of 2 s, after which a request counts as a
    socket error."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if timeout:
        command += ["--timeout", f"{timeout}s"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    if lua:
        command += ["-s", str(lua)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Requests/sec" not in out or "99%" not in out:
        raise RuntimeError(f"wrk gave no figures for {name}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = int(non_2xx.group(1)) if non_2xx else 0
    broken = sum(int(g) for g in socket_errors.groups()) if socket_errors else 0
    done = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    requests = int(done.group(1))  # type: ignore[union-attr]
    seconds = float(done.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[done.group(3)]  # type: ignore[union-attr]
    return Result(
        name,
        rps,
        p50,
        p99,
        failed + broken,
        requests=requests,
        non_2xx=failed,
        socket_errors=broken,
        seconds=seconds,
    )


def start_server(
    home: Path,
    port: int,
    *,
    database_url: str | None = None,
    worker: bool = True,
    processes: int = 1,
    isolation: str | None = None,
) -> subprocess.Popen[bytes]:
    """`dagy server` with limits raised for load, on `database_url` (default: SQLite in `home`),
    with `processes` server processes (`--processes`, PostgreSQL only) and its embedded worker's
    run isolation (`DAGY_ISOLATION`; None: the default)."""
    env = os.environ | {
        "DAGY_HOME": str(home),
        "DAGY_SUPERADMIN_EMAILS": SUPERADMIN,
        "DAGY_RATE_LIMIT_PER_MINUTE": "100000000",
        "DAGY_RATE_LIMIT_PER_ADDRESS_PER_MINUTE": "100000000",
        "DAGY_LOG_LEVEL": "warning",
    }
    env.pop("DAGY_DATABASE_URL", None)
    if isolation:
        env["DAGY_ISOLATION"] = isolation
    if database_url:
        env["DAGY_DATABASE_URL"] = database_url
    dagy = Path(sys.executable).with_name("dagy")
    command = [str(dagy), "server", "--port", str(port), *([] if worker else ["--no-worker"])]
    command += ["--processes", str(processes)] if processes > 1 else []
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


def setup(base: str, *, default_executor: str | None = None) -> tuple[str, str]:
    """A signed-in owner of a fresh org with a one-node flow (runs on `default_executor`, default
    the installation's); returns (token, org_id)."""
    token = httpx.post(f"{base}/v1/auth/login", json={"email": SUPERADMIN}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {"org_name": "bench", "plan": "enterprise"}  # no run quota
    org = httpx.post(f"{base}/v1/orgs", json=body, headers=headers).json()
    spec = {
        "nodes": [
            {
                "id": "hello",
                "type": "python_function",
                "data": {
                    "code": "def main(inputs, params):\n    return {'ok': True}\n",
                    "entrypoint": "main",
                },
            }
        ],
        "edges": [],
    }
    created = httpx.post(
        f"{base}/v1/flows",
        json={"flow_name": "bench-flow", "flow_spec": spec}
        | ({"default_executor": default_executor} if default_executor else {}),
        headers=headers | {"X-Org-Id": org["org_id"]},
    )
    created.raise_for_status()
    return token, org["org_id"]


def count_runs(base: str, token: str, org_id: str, status: str) -> int:
    headers = {"Authorization": f"Bearer {token}", "X-Org-Id": org_id}
    count, next_token = 0, None
    while True:
        params = {"status": status, "limit": 100} | ({"next_token": next_token} if next_token else {})
        page = httpx.get(f"{base}/v1/runs", params=params, headers=headers, timeout=30).json()
        count += len(page["items"])
        next_token = page.get("next_token")
        if not next_token:
            return count


def post_runs_script(org_id: str) -> Path:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    body = json.dumps({"flow_name": "bench-flow", "parameters": {"n": 1}})
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{body}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-Org-Id"] = "{org_id}"\n'
    )
    return script


def median(rounds: int, measure: Callable[[], Result]) -> Result:
    """The round with the median throughput: this machine's neighbours make single rounds noisy."""
    results = sorted((measure() for _ in range(rounds)), key=lambda r: r.requests_per_second)
    chosen = results[len(results) // 2]
    low, high = results[0].requests_per_second, results[-1].requests_per_second
    chosen.note = f"median of {rounds} rounds ({low:.0f}-{high:.0f} req/s)"
    if chosen.server_cpu_ms is not None:
        chosen.note += f"; server CPU {chosen.server_cpu_ms:.2f} ms/request"
    return chosen


def print_table(results: list[Result]) -> None:
    print(f"{'endpoint':<28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  note")
    for r in results:
        figures = f"{r.requests_per_second:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.errors:>7}"
        print(f"{r.name:<28} {figures}  {r.note}")


def measure_reads(args: argparse.Namespace) -> list[Result]:
    base = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory() as home:
        server = start_server(Path(home), args.port)
        try:
            token, _ = setup(base)
            common = {"connections": args.connections, "duration": args.duration}
            return [
                median(args.repeat, lambda: wrk("GET /v1/health", f"{base}/v1/health", token=None, **common)),
                median(
                    args.repeat,
                    lambda: wrk("GET /v1/me (authenticated)", f"{base}/v1/me", token=token, **common),
                ),
            ]
        finally:
            stop(server)


def measure_runs(
    database: str, database_url: str | None, worker: bool, args: argparse.Namespace
) -> list[Result]:
    """`POST /v1/runs` at each connection count on one fresh server; the database keeps the runs of
    earlier rounds, as a real one would."""
    base = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory() as home:
        processes = getattr(args, "server_processes", 1) if database_url else 1
        server = start_server(
            Path(home), args.port, database_url=database_url, worker=worker, processes=processes
        )
        try:
            token, org_id = setup(base)
            lua = post_runs_script(org_id)
            results = []
            for connections in args.runs_connections:
                name = f"POST /v1/runs {database}, {connections} conn, worker {'on' if worker else 'off'}"

                def post_round(c: int = connections, n: str = name) -> Result:
                    before = cpu_seconds(server.pid)
                    result = wrk(
                        n,
                        f"{base}/v1/runs",
                        token=token,
                        lua=lua,
                        connections=c,
                        duration=args.duration,
                        timeout=getattr(args, "timeout", None),
                    )
                    result.server_cpu_ms = (cpu_seconds(server.pid) - before) * 1000 / max(result.requests, 1)
                    return result

                results.append(median(args.repeat, post_round))
            if worker:
                done = count_runs(base, token, org_id, "completed")
                results[-1].note += f"; the worker completed {done:,} runs meanwhile"
            return results
        finally:
            stop(server)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its live descendants (`dagy server
    --processes N`'s processes), a figure the machine's other load does not inflate the way it
    inflates wall-clock throughput."""
    root = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])


def stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16, help="connections for the read endpoints")
    parser.add_argument(
        "--runs-connections",
        type=lambda v: [int(c) for c in v.split(",")],
        default=[10, 50],
        help="connection counts for POST /v1/runs",
    )
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--timeout", type=int, help="wrk's request timeout for POST /v1/runs, s (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per figure; the median is shown")
    parser.add_argument("--only", choices=["reads", "runs"], help="measure one part only")
    parser.add_argument("--databases", default="sqlite,postgres", help="for POST /v1/runs")
    parser.add_argument("--workers", default="off,on", help="embedded worker settings for POST /v1/runs")
    parser.add_argument(
        "--postgres-server",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="where the throw-away PostgreSQL databases are created",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    results = [] if args.only == "runs" else measure_reads(args)
    if args.only != "reads":
        from lists import throwaway_postgres  # noqa: PLC0415 - lists.py imports this module

        for database in args.databases.split(","):
            for worker in [w == "on" for w in args.workers.split(",")]:
                if database == "sqlite":
                    results += measure_runs("SQLite", None, worker, args)
                    continue
                with throwaway_postgres(args.postgres_server) as url:
                    results += measure_runs("PostgreSQL", url, worker, args)
    print_table(results)
    print("\n| endpoint | req/s | p50 ms | p99 ms | errors | note |\n|---|---:|---:|---:|---:|---|")
    for r in results:
        figures = f"{r.requests_per_second:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors}"
        print(f"| `{r.name}` | {figures} | {r.note} |")


if __name__ == "__main__":
    main()
