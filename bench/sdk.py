"""The SDK's local overhead, side by side with Prefect 3.

(a) A flow of N trivial tasks (`return i`) run in-process, called in a row and submitted; per-task
    overhead = the time the flow function spends on its N tasks (timed inside it, so the flow
    run's own set-up is not counted) / N, median of several rounds after a warm-up. Dagy is also
    timed with the listener a worker's runtime attaches (every task run written as node events to
    a pipe another process reads), which is what a code flow pays on a worker.
(e) `python -c 'import dagy'` vs `python -c 'import prefect'`: wall time of fresh interpreters
    (hyperfine when installed, else a loop of subprocesses), median; the bare interpreter's own
    start-up is reported beside them.

    bench/peers/setup.sh                       # once: Prefect 3 in bench/peers/.venv-prefect
    .venv/bin/python bench/sdk.py --tasks 100 --rounds 9

Each side runs in its own interpreter (`--side dagy|prefect`, printing JSON), so neither library's
import or threads touch the other's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DAGY_PYTHON = ROOT / ".venv" / "bin" / "python"
PREFECT_PYTHON = BENCH / "peers" / ".venv-prefect" / "bin" / "python"


def _per_task(flows: dict[str, Callable[[int], float]], tasks: int, rounds: int) -> dict[str, Any]:
    """Median per-task overhead of each flow, and median wall time of a whole flow call, in ms."""
    results = {}
    for label, call in flows.items():
        call(tasks)  # warm-up: first-call costs (imports, pools, a Prefect server) are not per task
        per_task, totals = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            inside = call(tasks)
            totals.append((time.perf_counter() - started) * 1000)
            per_task.append(inside / tasks * 1000)
        results[label] = {
            "per_task_ms": statistics.median(per_task),
            "per_task_ms_range": [min(per_task), max(per_task)],
            "flow_ms": statistics.median(totals),
        }
    return results


def _dagy_flows() -> dict[str, Callable[[int], float]]:
    from dagy import flow, task  # noqa: PLC0415 - this interpreter measures Dagy only
    from dagy.runtime.code_flow import TaskRunReporter  # noqa: PLC0415
    from dagy.runtime.events import EventWriter  # noqa: PLC0415
    from dagy.sdk import listening  # noqa: PLC0415

    @task
    def noop(i: int) -> int:
        return i

    @flow
    def sequential(n: int) -> float:
        started = time.perf_counter()
        for i in range(n):
            noop(i)
        return time.perf_counter() - started

    @flow
    def submitted(n: int) -> float:
        started = time.perf_counter()
        futures = [noop.submit(i) for i in range(n)]
        for future in futures:
            future.result()
        return time.perf_counter() - started

    # The worker reads the runtime's stdout from another process: here `cat` into /dev/null does.
    reader = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    reporter = TaskRunReporter(EventWriter(reader.stdin))  # type: ignore[arg-type]

    def reported(n: int) -> float:
        with listening("bench", reporter):
            return sequential(n)

    return {"sequential": sequential, "submitted": submitted, "sequential, node events to a pipe": reported}


def _prefect_flows() -> dict[str, Callable[[int], float]]:
    sys.path.insert(0, str(BENCH / "peers"))
    import prefect_flows  # noqa: PLC0415 - only in the Prefect venv

    return {"sequential": prefect_flows.sequential, "submitted": prefect_flows.submitted}


def measure_side(side: str, tasks: int, rounds: int) -> dict[str, Any]:
    if side == "dagy":
        import dagy  # noqa: PLC0415

        return {"version": dagy.__version__, "flows": _per_task(_dagy_flows(), tasks, rounds)}
    import prefect  # noqa: PLC0415

    return {"version": prefect.__version__, "flows": _per_task(_prefect_flows(), tasks, rounds)}


def run_side(python: Path, side: str, tasks: int, rounds: int) -> dict[str, Any]:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="dagy-bench-") as home:
        env["PREFECT_HOME"] = home  # Prefect's ephemeral server and database live here, not in ~/.prefect
        # A busy host starts Prefect's ephemeral server slowly; no telemetry calls from a benchmark.
        env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
        env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        command = [
            str(python),
            str(Path(__file__).resolve()),
            "--side",
            side,
            "--tasks",
            str(tasks),
            "--rounds",
            str(rounds),
        ]
        done = subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        sys.exit(f"{side} side failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    # Prefect logs to stdout too: the figures are the line that is our JSON.
    return dict(json.loads(next(line for line in done.stdout.splitlines() if line.startswith('{"version"'))))


def import_seconds(python: Path, statement: str, repeat: int) -> dict[str, float]:
    """Median and range of `python -c statement` wall time, and its median CPU time (user + system:
    less sensitive than wall time to other load on a shared host), in ms."""
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile(suffix=".json") as export:
            command = f"{python} -c '{statement}'"
            hyperfine = [
                "hyperfine",
                "-N",
                "--warmup",
                "2",
                "--runs",
                str(repeat),
                "--export-json",
                export.name,
            ]
            subprocess.run([*hyperfine, command], check=True, capture_output=True)
            result = json.loads(Path(export.name).read_text())["results"][0]
        times, cpu = [t * 1000 for t in result["times"]], [(result["user"] + result["system"]) * 1000]
    else:
        times, cpu = [], []
        for index in range(repeat + 2):
            before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            subprocess.run([str(python), "-c", statement], check=True)
            wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
            if index >= 2:  # two warm-ups fill the page cache
                times.append(wall * 1000)
                cpu.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
    return {
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "max_ms": max(times),
        "cpu_ms": statistics.median(cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--imports", type=int, default=15, help="interpreter starts per import measurement")
    parser.add_argument("--side", choices=["dagy", "prefect"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(measure_side(args.side, args.tasks, args.rounds)))
        return
    have_prefect = PREFECT_PYTHON.exists()
    if not have_prefect:
        print("Prefect is not set up (bench/peers/setup.sh); measuring Dagy alone.", file=sys.stderr)
    sides = {"dagy": run_side(DAGY_PYTHON, "dagy", args.tasks, args.rounds)}
    if have_prefect:
        sides["prefect"] = run_side(PREFECT_PYTHON, "prefect", args.tasks, args.rounds)
    print(f"(a) {args.tasks} trivial tasks in a local flow, median of {args.rounds} rounds")
    print("| library | calls | per task ms (range) | flow ms |\n|---|---|---:|---:|")
    for side, result in sides.items():
        for label, figures in result["flows"].items():
            low, high = figures["per_task_ms_range"]
            per_task = f"{figures['per_task_ms']:.4f} ({low:.4f}-{high:.4f})"
            print(f"| {side} {result['version']} | {label} | {per_task} | {figures['flow_ms']:.2f} |")
    print(f"\n(e) fresh interpreter, median of {args.imports} starts")
    print("| command | median ms | range ms | CPU ms |\n|---|---:|---:|---:|")
    rows = [(DAGY_PYTHON, "pass"), (DAGY_PYTHON, "import dagy"), (DAGY_PYTHON, "from dagy import flow, task")]
    if have_prefect:
        rows += [(PREFECT_PYTHON, "pass"), (PREFECT_PYTHON, "import prefect")]
    for python, statement in rows:
        figures = import_seconds(python, statement, args.imports)
        venv = python.parent.parent.name
        print(
            f"| `{venv}: python -c '{statement}'` | {figures['median_ms']:.0f} | "
            f"{figures['min_ms']:.0f}-{figures['max_ms']:.0f} | {figures['cpu_ms']:.0f} |"
        )


if __name__ == "__main__":
    main()
