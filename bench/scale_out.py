"""Scale-out benchmark: runs/s with 1, 2 and 4 `dagy worker` processes on PostgreSQL, and the wait
in the queue while 1,000 queued runs drain.

One `dagy server --no-worker` (API and background loops) on a throw-away PostgreSQL database and a
one-node flow (a `python_function` returning a constant) queued for `flow-executor`:

(1) The scaling curve. For each N of `--workers` (default 1,2,4): N `dagy worker --executor
    flow-executor --concurrency C` processes are started and warmed up (4 runs per worker slot),
    then M runs (`--runs`, default 1,000) are triggered by 16 client threads. runs/s = completed /
    (last `completed_at` - first `created_at`), as in bench/dispatch.py. The CPU time each part
    used during the round (the server, the workers with their run processes, PostgreSQL's backends
    of this database) is read with psutil, per completed run.
(2) Queue latency under 1,000 queued runs, with the largest N: 50 runs one after the other on the
    idle queue first; then the warm workers are paused (SIGSTOP), 1,000 runs are queued (16 client
    threads) and the workers resumed (SIGCONT). While the backlog drains, a probe thread triggers
    one run every `--probe-interval` s until the backlog is claimed: half the probes at the default
    priority (they wait behind the backlog, as a new run of a busy installation does), half with
    `priority: 0` (ahead of it: the claim's own cost with the queue full). A run's wait is
    `started_at - created_at` (its claim); the figures are p50/p95 of each kind, and how long the
    1,000 took from the workers' resumption to the last `completed_at`.

    python bench/scale_out.py [--workers 1,2,4] [--runs 1000] [--concurrency 4] [--port 8113]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from dispatch import percentile
from lists import throwaway_postgres
from run import setup, start_server, stop
from sqlalchemy import Engine, bindparam, create_engine, text

EXECUTOR = "flow-executor"
TERMINAL = ("completed", "failed", "cancelled")


@dataclass
class Bed:
    """The server, its database and a signed-in owner of the org whose flow is run."""

    base: str
    home: Path
    database_url: str
    db: Engine
    server: subprocess.Popen[bytes]
    headers: dict[str, str]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=self.headers, timeout=60)


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, its live descendants and the children they reaped
    (a worker's run processes end between two readings)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


class PostgresCpu:
    """CPU seconds of the PostgreSQL backends connected to `database` (their titles name it), read
    every `interval` s from a thread: the server's pool closes its overflow connections when they
    are returned, so a backend may live for a moment only. Those born in between count whole; one
    born and gone between two readings is missed, so the figure is a lower bound."""

    def __init__(self, database: str, interval: float = 0.25) -> None:
        self.pattern, self.interval = f" {database} ", interval
        self.ours: dict[int, psutil.Process] = {}
        self.others: set[int] = set()
        self.base: dict[int, float] = {}
        self.latest: dict[int, float] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._read(counting_from_now=True)
        self.thread.start()

    def stop(self) -> float:
        self.done.set()
        self.thread.join()
        self._read()
        return sum(seconds - self.base.get(pid, 0.0) for pid, seconds in self.latest.items())

    def _run(self) -> None:
        while not self.done.wait(self.interval):
            self._read()

    def _read(self, *, counting_from_now: bool = False) -> None:
        for pid in psutil.pids():
            if pid in self.others:
                continue
            try:
                process = self.ours.get(pid) or psutil.Process(pid)
                if pid not in self.ours:
                    title = " ".join(process.cmdline())
                    if process.name() != "postgres" or self.pattern not in f"{title} ":
                        self.others.add(pid)
                        continue
                    self.ours[pid] = process
                times = process.cpu_times()
            except psutil.Error:
                continue
            self.latest[pid] = times.user + times.system
            if counting_from_now:
                self.base[pid] = self.latest[pid]


class CpuMeter:
    """CPU seconds the server, the workers and this database's PostgreSQL backends use between
    `start()` and `stop()`."""

    def __init__(self, bed: Bed, workers: list[subprocess.Popen[bytes]]) -> None:
        self.bed, self.workers = bed, workers
        self.postgres = PostgresCpu(bed.database_url.rsplit("/", 1)[-1])

    def _read(self) -> tuple[float, float, float, float]:
        own = psutil.Process().cpu_times()
        machine = psutil.cpu_times()
        return (
            tree_cpu(self.bed.server.pid),
            sum(tree_cpu(w.pid) for w in self.workers),
            own.user + own.system,
            machine.user + machine.nice + machine.system + machine.irq + machine.softirq,
        )

    def start(self) -> None:
        self.postgres.start()
        self.before = self._read()
        self.started = time.monotonic()

    def stop(self) -> dict[str, float]:
        """Seconds of CPU by part, `others` (what the rest of the machine used meanwhile) and
        `wall`, the seconds measured."""
        wall = time.monotonic() - self.started
        after = self._read()
        server, workers, bench, busy = (a - b for a, b in zip(after, self.before, strict=True))
        pg = self.postgres.stop()
        ours = {"server": server, "workers": workers, "postgres": pg, "bench": bench}
        return ours | {"others": max(busy - sum(ours.values()), 0.0), "wall": wall}


def start_workers(bed: Bed, count: int, concurrency: int) -> list[subprocess.Popen[bytes]]:
    token = (bed.home / "worker.token").read_text().strip()
    env = os.environ | {"DAGY_WORKER_TOKEN": token, "DAGY_LOG_LEVEL": "warning"}
    dagy = str(Path(sys.executable).with_name("dagy"))
    workers = []
    for i in range(count):
        command = [dagy, "worker", "--url", bed.base, "--executor", EXECUTOR, "--drain-seconds", "5"]
        command += ["--concurrency", str(concurrency), "--worker-id", f"scale-{count}-{i}"]
        quiet = subprocess.DEVNULL
        workers.append(subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet))
    return workers


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def trigger(client: httpx.Client, count: int, *, threads: int = 16, **body: Any) -> list[str]:
    def one(_: int) -> str:
        answer = client.post("/v1/runs", json={"flow_name": "bench-flow"} | body)
        if answer.status_code != 202:
            raise RuntimeError(f"a trigger was answered {answer.status_code}: {answer.text}")
        return str(answer.json()["run_id"])

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def rows(bed: Bed, run_ids: list[str]) -> list[dict[str, Any]]:
    """Each run's status and times, from the database (epoch seconds)."""
    query = text(
        "SELECT id, status, extract(epoch FROM created_at)::float8 AS created, "
        "extract(epoch FROM started_at)::float8 AS started, "
        "extract(epoch FROM completed_at)::float8 AS completed FROM run WHERE id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    found: list[dict[str, Any]] = []
    with bed.db.connect() as connection:
        for start in range(0, len(run_ids), 1000):
            chunk = {"ids": run_ids[start : start + 1000]}
            found += [dict(r._mapping) for r in connection.execute(query, chunk)]
    return found


def wait_finished(bed: Bed, run_ids: list[str], timeout: float = 1800) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = rows(bed, run_ids)
        if len(found) == len(run_ids) and all(r["status"] in TERMINAL for r in found):
            return found
        time.sleep(0.2)
    raise RuntimeError(f"{len(run_ids)} runs did not finish in {timeout} s")


def wait_online(bed: Bed, worker_ids: set[str], timeout: float = 60) -> None:
    """Until every worker has claimed once (a worker is listed from its first claim on)."""
    deadline = time.monotonic() + timeout
    with bed.client() as client:
        while time.monotonic() < deadline:
            listed = client.get("/v1/workers", params={"limit": 100}).json()
            if worker_ids <= {w["worker_id"] for w in listed["items"]}:
                return
            time.sleep(0.2)
    raise RuntimeError(f"workers {sorted(worker_ids)} did not come online")


@contextmanager
def fleet(bed: Bed, count: int, concurrency: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` workers, online and warmed up (their template processes started, a few runs each)."""
    workers = start_workers(bed, count, concurrency)
    try:
        wait_online(bed, {f"scale-{count}-{i}" for i in range(count)})
        with bed.client() as client:
            wait_finished(bed, trigger(client, 4 * count * concurrency))
        yield workers
    finally:
        stop_workers(workers)


def scaling_round(bed: Bed, count: int, args: argparse.Namespace) -> dict[str, float]:
    with fleet(bed, count, args.concurrency) as workers:
        meter = CpuMeter(bed, workers)
        meter.start()
        with bed.client() as client:
            run_ids = trigger(client, args.runs)
        found = wait_finished(bed, run_ids)
        cpu = meter.stop()
    others, wall = cpu.pop("others"), cpu.pop("wall")
    completed = [r for r in found if r["status"] == "completed"]
    seconds = max(r["completed"] for r in found) - min(r["created"] for r in found)
    waits = [r["started"] - r["created"] for r in completed]
    per_run = {f"{part}_cpu_ms": 1000 * value / max(len(completed), 1) for part, value in cpu.items()}
    return {
        "workers": count,
        "completed": len(completed),
        "runs": len(found),
        "seconds": seconds,
        "runs_per_second": len(completed) / seconds,
        "wait_p50_ms": 1000 * percentile(waits, 0.5),
        "cpu_seconds": sum(cpu.values()),
        "cpu_share": sum(cpu.values()) / wall,
        "others_cores": others / wall,
    } | per_run


def probe(bed: Bed, stop: threading.Event, interval: float) -> dict[str, list[str]]:
    """One run every `interval` s until `stop`, alternately at the default priority and at 0."""
    probes: dict[str, list[str]] = {"default priority": [], "priority 0": []}
    with bed.client() as client:
        while not stop.is_set():
            for kind, body in (("default priority", {}), ("priority 0", {"priority": 0})):
                answer = client.post("/v1/runs", json={"flow_name": "bench-flow"} | body)
                answer.raise_for_status()
                probes[kind].append(str(answer.json()["run_id"]))
                stop.wait(interval)
    return probes


def latency_under_backlog(bed: Bed, args: argparse.Namespace) -> dict[str, Any]:
    count = max(args.workers)
    with fleet(bed, count, args.concurrency) as workers:
        with bed.client() as client:
            idle = [trigger(client, 1, threads=1)[0] for _ in range(args.idle_runs)]
            for run_id in idle:
                wait_finished(bed, [run_id])
            # The backlog is queued while the (warm) workers are paused, then they drain it.
            for worker in workers:
                worker.send_signal(signal.SIGSTOP)
            try:
                backlog = trigger(client, args.backlog)
            finally:
                for worker in workers:
                    worker.send_signal(signal.SIGCONT)
        resumed = time.time()
        stop = threading.Event()
        with ThreadPoolExecutor(1) as prober:
            probes_future = prober.submit(probe, bed, stop, args.probe_interval / 2)
            try:
                while not all(r["started"] is not None for r in rows(bed, backlog)):
                    time.sleep(0.2)  # probes go on until every backlog run has been claimed
            finally:
                stop.set()
            probes = probes_future.result()
        backlog_rows = wait_finished(bed, backlog)
        probe_rows = {kind: wait_finished(bed, ids) for kind, ids in probes.items()}
        idle_rows = rows(bed, idle)

    def waits(found: list[dict[str, Any]]) -> list[float]:
        return [1000 * (r["started"] - r["created"]) for r in found if r["started"] is not None]

    created = [r["created"] for r in backlog_rows]
    return {
        "workers": count,
        "backlog": len(backlog_rows),
        "completed": sum(r["status"] == "completed" for r in backlog_rows),
        "enqueue_seconds": max(created) - min(created),
        "drain_seconds": max(r["completed"] for r in backlog_rows) - resumed,
        "waits": {"idle queue": waits(idle_rows)}
        | {f"probes, {kind}": waits(found) for kind, found in probe_rows.items()},
    }


def open_bed(home: Path, database_url: str, port: int) -> Bed:
    server = start_server(home, port, database_url=database_url, worker=False)
    base = f"http://127.0.0.1:{port}"
    token, org_id = setup(base, default_executor=EXECUTOR)
    headers = {"Authorization": f"Bearer {token}", "X-Org-Id": org_id}
    return Bed(base, home, database_url, create_engine(database_url), server, headers)


def print_curve(curve: list[dict[str, float]], concurrency: int) -> None:
    print(f"\n== scaling curve, `dagy worker --concurrency {concurrency}` processes")
    print(
        "| workers | runs/s | completed | seconds | wait p50 ms | CPU used (cores) "
        "| CPU ms per run: server / workers+runs / PostgreSQL / this script "
        "| other processes' CPU (cores) |\n|---:|---:|---:|---:|---:|---:|---|---:|"
    )
    for r in curve:
        parts = ("server", "workers", "postgres", "bench")
        cpu = " / ".join(f"{r[f'{part}_cpu_ms']:.1f}" for part in parts)
        print(
            f"| {r['workers']:.0f} | {r['runs_per_second']:.1f} | {r['completed']:.0f}/{r['runs']:.0f} "
            f"| {r['seconds']:.1f} | {r['wait_p50_ms']:.0f} | {r['cpu_share']:.2f} | {cpu} "
            f"| {r['others_cores']:.2f} |"
        )


def print_latency(figures: dict[str, Any]) -> None:
    print(f"\n== queue latency, {figures['backlog']} runs queued at once, {figures['workers']} workers")
    print(
        f"backlog queued in {figures['enqueue_seconds']:.1f} s (workers paused); "
        f"{figures['completed']}/{figures['backlog']} completed "
        f"{figures['drain_seconds']:.1f} s after the workers resumed "
        f"({figures['completed'] / figures['drain_seconds']:.1f} runs/s)"
    )
    print("| runs | count | wait p50 ms | wait p95 ms | max ms |\n|---|---:|---:|---:|---:|")
    for name, values in figures["waits"].items():
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        print(f"| {name} | {len(values)} | {p50:.0f} | {p95:.0f} | {max(values):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=lambda v: [int(n) for n in v.split(",")], default=[1, 2, 4])
    parser.add_argument("--runs", type=int, default=1000, help="runs per point of the curve")
    parser.add_argument("--concurrency", type=int, default=4, help="runs each worker executes at once")
    parser.add_argument("--backlog", type=int, default=1000, help="runs queued at once for the latency")
    parser.add_argument("--probe-interval", type=float, default=0.5, help="s between two probes of a kind")
    parser.add_argument("--idle-runs", type=int, default=50, help="runs one after the other, idle queue")
    parser.add_argument("--only", choices=["curve", "latency"])
    parser.add_argument("--port", type=int, default=8113)
    parser.add_argument(
        "--postgres-server",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="where the throw-away PostgreSQL database is created",
    )
    args = parser.parse_args()
    print(f"load average at the start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    with throwaway_postgres(args.postgres_server) as url, tempfile.TemporaryDirectory() as home:
        bed = open_bed(Path(home), url, args.port)
        try:
            if args.only != "latency":
                curve = []
                for count in args.workers:
                    curve.append(scaling_round(bed, count, args))
                    print_curve(curve[-1:], args.concurrency)
                print_curve(curve, args.concurrency)
            if args.only != "curve":
                print_latency(latency_under_backlog(bed, args))
        finally:
            bed.db.dispose()
            stop(bed.server)
    print(f"\nload average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
