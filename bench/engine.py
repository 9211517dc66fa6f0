"""The engine benchmark: Dagy and Prefect 3 side by side, in one table.

(a) SDK per-task overhead: a flow of 100 trivial tasks run locally, in-process (bench/sdk.py).
(b) Trigger to completed, one-node flow: Dagy's embedded worker, 200 runs one after another
    (bench/dispatch.py); Prefect: a deployment of a one-task flow served by one process worker
    (`prefect worker start --type process`, default polling), fewer runs (~9 s each).
(c) Throughput through 2 workers (4 runs at once each): Dagy 1,000 one-node runs
    (bench/dispatch.py), Prefect fewer one-task deployment runs; runs/s = completed / (last end -
    first creation).
(d) An SDK flow of 1,000 trivial tasks called in a row: Dagy as a code flow on the embedded worker
    (node runs recorded per second: 1,000 / (the time the server has all 1,000 node runs completed
    - the run's started_at)); Prefect: the flow called in a process against the Prefect server
    (task runs / (the time the server counts all of them completed - the flow run's start_time)).
(e) `python -c 'import dagy'` and `python -c 'import prefect'`, fresh interpreters (bench/sdk.py).
(g) Run isolation (docs/isolation.md): (b) and (c) on SQLite, with the workers' DAGY_ISOLATION off
    and then strict, in one run: what the boundary adds to the latency and costs of the throughput.
(f) Creating runs under wrk at 10 and 50 connections, median of `--repeat` rounds, worker off:
    Dagy `POST /v1/runs` (bench/run.py), Prefect `POST /api/deployments/{id}/create_flow_run`
    (what `create_flow_run_from_deployment` sends) on its SQLite server.

Dagy's rows run on SQLite, and on a throw-away PostgreSQL database for (c) and (f); Prefect's on
SQLite, each measure on a fresh `prefect server start`. The Prefect side runs in
bench/peers/.venv-prefect (bench/peers/setup.sh) through bench/peers/prefect_engine.py, in
subprocesses: this process never imports Prefect.

    bench/peers/setup.sh          # once
    .venv/bin/python bench/engine.py [--only a,b,c,d,e,f] [--no-prefect] [--json engine.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dispatch
import httpx
import run

import sdk

BENCH = Path(__file__).resolve().parent
PREFECT_PYTHON = sdk.PREFECT_PYTHON
PREFECT_HELPER = BENCH / "peers" / "prefect_engine.py"

# (d): the code flow Dagy's worker runs, zipped into the server's local object store.
MANY_TASKS = """from dagy import flow, task


@task
def noop(i):
    return i


@flow(name="bench-tasks")
def many(n: int = 1000) -> int:
    for i in range(n):
        noop(i)
    return n
"""


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def load() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` shows them."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def prefect(measure: str, *options: str) -> dict[str, Any]:
    """One measure of bench/peers/prefect_engine.py, in Prefect's venv; its JSON line."""
    command = [str(PREFECT_PYTHON), str(PREFECT_HELPER), measure, *options]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DAGY_"))}
    done = subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=7200)
    if done.returncode != 0:
        raise RuntimeError(f"prefect {measure} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return dict(json.loads(next(line for line in done.stdout.splitlines() if line.startswith('{"measure"'))))


@contextmanager
def prefect_serving() -> Iterator[dict[str, Any]]:
    """A Prefect server with the one-task deployment, until the block ends."""
    command = [str(PREFECT_PYTHON), str(PREFECT_HELPER), "serve"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DAGY_"))}
    helper = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert helper.stdout is not None
        for line in helper.stdout:
            if line.startswith('{"measure"'):
                yield json.loads(line)
                break
        else:
            raise RuntimeError("the Prefect server did not start")
    finally:
        assert helper.stdin is not None
        helper.stdin.close()
        try:
            helper.wait(timeout=120)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait()


def namespace(args: argparse.Namespace, **overrides: Any) -> argparse.Namespace:
    return argparse.Namespace(**(vars(args) | overrides))


# (a), (e)
def sdk_overhead(args: argparse.Namespace) -> dict[str, Any]:
    sides = {"dagy": sdk.run_side(sdk.DAGY_PYTHON, "dagy", args.tasks, args.rounds)}
    if args.prefect:
        sides["prefect"] = sdk.run_side(PREFECT_PYTHON, "prefect", args.tasks, args.rounds)
    return sides


def imports(args: argparse.Namespace) -> dict[str, Any]:
    rows = {"dagy: pass": (sdk.DAGY_PYTHON, "pass"), "dagy: import dagy": (sdk.DAGY_PYTHON, "import dagy")}
    if args.prefect:
        rows |= {
            "prefect: pass": (PREFECT_PYTHON, "pass"),
            "prefect: import prefect": (PREFECT_PYTHON, "import prefect"),
        }
    return {
        name: sdk.import_seconds(python, statement, args.imports)
        for name, (python, statement) in rows.items()
    }


# (b)
def dagy_latency(args: argparse.Namespace) -> dict[str, Any]:
    figures = dispatch.measure_latency(namespace(args, runs=args.latency_runs))
    return {
        name: {
            "p50_ms": dispatch.percentile(values, 0.5) * 1000,
            "p99_ms": dispatch.percentile(values, 0.99) * 1000,
        }
        for name, values in figures.items()
    } | {"runs": args.latency_runs}


# (c)
def dagy_throughput(database_url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    return dispatch.measure_throughput(database_url, namespace(args, throughput_runs=args.throughput_runs))


# (d)
def dagy_worker_tasks(args: argparse.Namespace) -> dict[str, Any]:
    base = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory() as home:
        server = run.start_server(Path(home), args.port, worker=True)
        try:
            token, org_id = run.setup(base)
            headers = {"Authorization": f"Bearer {token}", "X-Org-Id": org_id}
            key = f"dagy/flows/{org_id}/bench-tasks/bench-tasks-1.zip"
            artifact = Path(home) / "objects" / key
            artifact.parent.mkdir(parents=True)
            with zipfile.ZipFile(artifact, "w") as archive:
                archive.writestr("bench_tasks.py", MANY_TASKS)
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                client.post(
                    "/v1/flows",
                    json={
                        "flow_name": "bench-tasks",
                        "artifact_s3_uri": key,
                        "flow_spec": {"entrypoint": "bench_tasks:many"},
                    },
                ).raise_for_status()

                def one(n: int) -> tuple[dict[str, Any], float]:
                    answer = client.post(
                        "/v1/runs", json={"flow_name": "bench-tasks", "parameters": {"n": n}}
                    )
                    answer.raise_for_status()
                    result = dispatch.wait(client, answer.json()["run_id"], timeout=1800)
                    if result["status"] != "completed":
                        raise RuntimeError(f"the code flow ended {result['status']}: {result.get('error')}")
                    # All node runs are normally recorded by the time the run completes; if some are
                    # not, the end is when the server first shows them all.
                    done_at = dispatch.at(result["completed_at"])
                    while True:
                        items = client.get(f"/v1/runs/{result['run_id']}/tasks").json()["items"]
                        if sum(1 for item in items if item["status"] == "completed") >= n:
                            break
                        time.sleep(0.1)
                        done_at = time.time()
                    return result, done_at - dispatch.at(result["started_at"])

                one(3)  # warm-up
                result, seconds = one(args.worker_tasks)
            return {
                "tasks": args.worker_tasks,
                "seconds": seconds,
                "per_second": args.worker_tasks / seconds,
                "run_process_seconds": dispatch.at(result["completed_at"])
                - dispatch.at(result["started_at"]),
            }
        finally:
            run.stop(server)


# (f)
def dagy_creates(database: str, database_url: str | None, args: argparse.Namespace) -> list[run.Result]:
    overrides = {"runs_connections": [10, 50], "timeout": args.wrk_timeout}
    return run.measure_runs(database, database_url, False, namespace(args, **overrides))


def prefect_creates(args: argparse.Namespace) -> dict[str, list[run.Result]]:
    """Both ways Prefect's API creates a deployment's run, on one server: the deployment's
    `create_flow_run` route (the client's `create_flow_run_from_deployment`) and `POST /flow_runs/`
    naming the flow and the deployment."""
    with prefect_serving() as served:
        api, deployment_id = served["api"], served["deployment_id"]
        routes = {
            "create_flow_run": (f"{api}/deployments/{deployment_id}/create_flow_run", {}),
            "flow_runs": (
                f"{api}/flow_runs/",
                {"flow_id": served["flow_id"], "deployment_id": deployment_id},
            ),
        }
        results: dict[str, list[run.Result]] = {}
        for route, (url, body) in routes.items():
            lua = Path(tempfile.mkstemp(suffix=".lua")[1])
            lua.write_text(
                f"wrk.method = \"POST\"\nwrk.body = '{json.dumps(body)}'\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
            try:
                results[route] = []
                for connections in (10, 50):
                    name = f"Prefect {route} SQLite, {connections} conn"

                    def measure(
                        c: int = connections, n: str = name, u: str = url, s: Path = lua
                    ) -> run.Result:
                        return run.wrk(
                            n,
                            u,
                            token=None,
                            lua=s,
                            connections=c,
                            duration=args.duration,
                            timeout=args.wrk_timeout,
                        )

                    results[route].append(run.median(args.repeat, measure))
            finally:
                lua.unlink()
        return results


def step(results: dict[str, Any], key: str, measure: Callable[[], Any]) -> None:
    log(f"{key}: start (load {load()})")
    started = time.monotonic()
    try:
        results[key] = measure()
    except Exception as error:  # one failed measure must not lose the others
        results[key] = {"error": str(error)[-2000:]}
    log(f"{key}: {time.monotonic() - started:.0f} s")


def creates(results: list[run.Result]) -> list[dict[str, Any]]:
    """wrk's figures of each round, with the runs actually created per second (2xx answers)."""
    return [
        {
            "name": r.name,
            "requests_per_second": r.requests_per_second,
            "created_per_second": (r.requests - r.non_2xx) / r.seconds if r.seconds else 0.0,
            "p50_ms": r.p50_ms,
            "p99_ms": r.p99_ms,
            "errors": r.errors,
            "non_2xx": r.non_2xx,
            "socket_errors": r.socket_errors,
            "requests": r.requests,
            "non_2xx_share": r.non_2xx / max(r.requests, 1),
            "note": r.note,
        }
        for r in results
    ]


def measure_all(args: argparse.Namespace) -> dict[str, Any]:  # noqa: C901, PLR0912 - one branch per measure
    from lists import throwaway_postgres  # noqa: PLC0415 - lists.py imports run.py, as this does

    only = set(args.only.split(","))
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python", "bench/engine.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_at_start": load()},
    }
    databases = args.databases.split(",")
    if "a" in only:
        step(results, "a", lambda: sdk_overhead(args))
    if "e" in only:
        step(results, "e", lambda: imports(args))
    if "b" in only:
        step(results, "b dagy sqlite", lambda: dagy_latency(args))
        if args.prefect:
            step(results, "b prefect", lambda: prefect("latency", "--runs", str(args.prefect_latency_runs)))
    if "c" in only:
        if "sqlite" in databases:
            step(results, "c dagy sqlite", lambda: dagy_throughput(None, args))
        if "postgres" in databases:

            def on_postgres() -> dict[str, Any]:
                with throwaway_postgres(args.postgres_server) as url:
                    return dagy_throughput(url, args)

            step(results, "c dagy postgres", on_postgres)
        if args.prefect:
            step(
                results,
                "c prefect",
                lambda: prefect("throughput", "--runs", str(args.prefect_throughput_runs), "--workers", "2"),
            )
    if "d" in only:
        step(results, "d dagy sqlite", lambda: dagy_worker_tasks(args))
        if args.prefect:
            step(results, "d prefect", lambda: prefect("tasks", "--tasks", str(args.worker_tasks)))
    if "f" in only:
        if "sqlite" in databases:
            step(results, "f dagy sqlite", lambda: creates(dagy_creates("SQLite", None, args)))
        if "postgres" in databases:

            def creates_on_postgres() -> list[dict[str, Any]]:
                with throwaway_postgres(args.postgres_server) as url:
                    return creates(dagy_creates("PostgreSQL", url, args))

            step(results, "f dagy postgres", creates_on_postgres)
        if args.prefect:

            def on_prefect() -> dict[str, list[dict[str, Any]]]:
                return {route: creates(rounds) for route, rounds in prefect_creates(args).items()}

            step(results, "f prefect", on_prefect)
    if "g" in only:
        for level in ("off", "strict"):
            isolated = namespace(args, isolation=level)
            step(results, f"g {level}", lambda isolated=isolated: isolation_pair(isolated))
    results["machine"]["load_at_end"] = load()
    return results


# (g)
def isolation_pair(args: argparse.Namespace) -> dict[str, Any]:
    """(b) and (c) on SQLite with the workers' run isolation at `args.isolation`."""
    return {"b": dagy_latency(args), "c": dagy_throughput(None, args)}


def table(results: dict[str, Any]) -> list[str]:  # noqa: C901, PLR0912, PLR0915 - one row per figure
    """The side-by-side table: one row per figure, columns Dagy SQLite, Dagy PostgreSQL, Prefect."""
    rows: list[tuple[str, str, str, str, str]] = []

    def get(key: str) -> Any:
        value = results.get(key)
        return None if value is None or (isinstance(value, dict) and "error" in value) else value

    def failed(key: str) -> str:
        value = results.get(key)
        return "failed" if isinstance(value, dict) and "error" in value else "—"

    if a := get("a"):
        dagy, pre = a["dagy"], a.get("prefect")
        for label, target in (("sequential", "≤ 0.2"), ("submitted", "≤ 0.2")):
            d = dagy["flows"][label]["per_task_ms"]
            p = f"{pre['flows'][label]['per_task_ms']:.2f}" if pre else "—"
            rows.append(
                (f"(a) per-task overhead, {args_tasks(results)} tasks {label}, ms", f"{d:.4f}", "", p, target)
            )
        worker = dagy["flows"]["sequential, node events to a pipe"]["per_task_ms"]
        rows.append(
            ("(a) per task, called, node events to a pipe (as on a worker), ms", f"{worker:.4f}", "", "", "")
        )
    b_dagy, b_pre = get("b dagy sqlite"), get("b prefect")
    if b_dagy or b_pre:
        key = "trigger to completed"
        d = (
            f"{b_dagy[key]['p50_ms']:.0f} / {b_dagy[key]['p99_ms']:.0f} ({b_dagy['runs']} runs)"
            if b_dagy
            else failed("b dagy sqlite")
        )
        p = (
            f"{b_pre[key]['p50_ms']:.0f} / {b_pre[key]['p99_ms']:.0f} ({b_pre['runs']} runs)"
            if b_pre
            else failed("b prefect")
        )
        rows.append(("(b) trigger to completed, one-node flow, p50 / p99 ms", d, "", p, "≤ 150 / ≤ 500"))
        if b_dagy and b_pre:
            dq, pq = b_dagy["queued (created to started)"], b_pre["queued"]
            rows.append(
                (
                    "(b) of which queued (created to started), p50 / p99 ms",
                    f"{dq['p50_ms']:.0f} / {dq['p99_ms']:.0f}",
                    "",
                    f"{pq['p50_ms']:.0f} / {pq['p99_ms']:.0f}",
                    "",
                )
            )

    def throughput(key: str) -> str:
        value = get(key)
        if value is None:
            return failed(key)
        return f"{value['runs_per_second']:.1f} ({value['completed']}/{value['runs']} runs)"

    if any(k in results for k in ("c dagy sqlite", "c dagy postgres", "c prefect")):
        rows.append(
            (
                "(c) one-node runs through 2 workers, runs/s",
                throughput("c dagy sqlite"),
                throughput("c dagy postgres"),
                throughput("c prefect"),
                "≥ 20 SQLite, ≥ 50 PostgreSQL",
            )
        )
    d_dagy, d_pre = get("d dagy sqlite"), get("d prefect")
    if d_dagy or d_pre:
        d = (
            f"{d_dagy['per_second']:,.0f} ({d_dagy['tasks']:,} in {d_dagy['seconds']:.2f} s)"
            if d_dagy
            else failed("d dagy sqlite")
        )
        p = (
            f"{d_pre['per_second']:,.1f} ({d_pre['recorded']:,} in {d_pre['seconds']:.1f} s)"
            if d_pre
            else failed("d prefect")
        )
        rows.append(("(d) 1,000-task SDK flow, task runs recorded per second", d, "", p, "≥ 1,000"))
    if e := get("e"):
        d = e["dagy: import dagy"]
        p = e.get("prefect: import prefect")
        pp = f"{p['median_ms']:.0f} (CPU {p['cpu_ms']:.0f})" if p else "—"
        rows.append(
            (
                "(e) `python -c 'import …'`, wall median ms (CPU ms)",
                f"{d['median_ms']:.0f} (CPU {d['cpu_ms']:.0f})",
                "",
                pp,
                "≤ 200",
            )
        )
        bare_d, bare_p = e["dagy: pass"], e.get("prefect: pass")
        rows.append(
            (
                "(e) `python -c 'pass'` in the same venv, ms",
                f"{bare_d['median_ms']:.0f}",
                "",
                f"{bare_p['median_ms']:.0f}" if bare_p else "—",
                "",
            )
        )

    def create(key: str, index: int, route: str | None = None) -> str:
        value = get(key)
        if value is None:
            return failed(key)
        r = (value[route] if route else value)[index]
        refused = f"{r['non_2xx']:,} of {r['requests']:,} answers non-2xx ({100 * r['non_2xx_share']:.1f} %)"
        return f"{r['created_per_second']:,.0f}/s; {refused}, {r['socket_errors']:,} socket errors"

    if any(k in results for k in ("f dagy sqlite", "f dagy postgres", "f prefect")):
        for index, (connections, target) in enumerate(((10, "≥ 500/s"), (50, "0 errors"))):
            rows.append(
                (
                    f"(f) runs created/s (2xx answers), errors, {connections} connections",
                    create("f dagy sqlite", index),
                    create("f dagy postgres", index),
                    create("f prefect", index, "create_flow_run"),
                    target,
                )
            )
        if get("f prefect"):
            for index, connections in enumerate((10, 50)):
                row = f"(f) Prefect `POST /api/flow_runs/`, {connections} connections"
                rows.append((row, "", "", create("f prefect", index, "flow_runs"), ""))
    off, strict = get("g off"), get("g strict")
    if off and strict:
        key = "trigger to completed"
        for label, figures in (("off", off), ("strict", strict)):
            b, c = figures["b"][key], figures["c"]
            rows.append(
                (
                    f"(g) isolation {label}: trigger to completed p50 / p99 ms; runs/s, 2 workers",
                    f"{b['p50_ms']:.1f} / {b['p99_ms']:.1f}; {c['runs_per_second']:.1f}",
                    "",
                    "",
                    "",
                )
            )
        added = strict["b"][key]["p50_ms"] - off["b"][key]["p50_ms"]
        cost = 100 * (1 - strict["c"]["runs_per_second"] / off["c"]["runs_per_second"])
        rows.append(
            (
                "(g) isolation adds to p50, ms; costs of runs/s",
                f"{added:+.1f}; {cost:.1f} %",
                "",
                "",
                "≤ 10; ≤ 15 %",
            )
        )
    version = (results.get("a") or {}).get("prefect", {}).get("version") or next(
        (v["version"] for v in results.values() if isinstance(v, dict) and "version" in v), "3"
    )
    lines = [
        f"| measure | Dagy, SQLite | Dagy, PostgreSQL | Prefect {version}, SQLite | target (Dagy) |",
        "|---|---:|---:|---:|---|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return lines


def args_tasks(results: dict[str, Any]) -> str:
    return str(results.get("tasks", 100))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="a,b,c,d,e,f,g", help="comma-separated measures")
    parser.add_argument("--no-prefect", dest="prefect", action="store_false", help="Dagy's rows only")
    parser.add_argument("--databases", default="sqlite,postgres", help="Dagy's databases for (c) and (f)")
    parser.add_argument("--port", type=int, default=8123, help="Dagy's server")
    parser.add_argument("--json", type=Path, default=Path("engine-results.json"), help="where results go")
    parser.add_argument("--tasks", type=int, default=100, help="(a) tasks per flow")
    parser.add_argument("--rounds", type=int, default=9, help="(a) rounds, the median is shown")
    parser.add_argument("--imports", type=int, default=21, help="(e) interpreter starts")
    parser.add_argument("--latency-runs", type=int, default=200, help="(b) Dagy runs")
    parser.add_argument("--warmup", type=int, default=5, help="(b) Dagy warm-up runs")
    parser.add_argument("--prefect-latency-runs", type=int, default=20, help="(b) Prefect runs (~9 s each)")
    parser.add_argument("--throughput-runs", type=int, default=1000, help="(c) Dagy runs")
    parser.add_argument("--prefect-throughput-runs", type=int, default=100, help="(c) Prefect runs")
    parser.add_argument("--workers", type=int, default=2, help="(c) worker processes (Dagy)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="(c) runs each Dagy worker executes at once"
    )
    parser.add_argument("--worker-tasks", type=int, default=1000, help="(d) tasks in the flow")
    parser.add_argument("--duration", type=int, default=10, help="(f) seconds per wrk round")
    parser.add_argument("--repeat", type=int, default=3, help="(f) wrk rounds, the median is shown")
    parser.add_argument("--wrk-timeout", type=int, default=10, help="(f) wrk's request timeout, s")
    parser.add_argument(
        "--server-processes", type=int, default=1, help="(f) `dagy server --processes` on PostgreSQL"
    )
    parser.add_argument(
        "--postgres-server",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="where the throw-away PostgreSQL databases are created",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    if args.prefect and not PREFECT_PYTHON.exists():
        sys.exit("Prefect is not set up: run bench/peers/setup.sh, or pass --no-prefect")
    results = measure_all(args)
    results["tasks"] = args.tasks
    args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print("\n".join(table(results)))
    machine = results["machine"]
    print(f"\nresults: {args.json}; load {machine['load_at_start']} → {machine['load_at_end']}")


if __name__ == "__main__":
    main()
