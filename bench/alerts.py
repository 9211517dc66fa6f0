"""Alert delivery benchmark: 1,000 failing runs matching a rule with a webhook channel.

Starts `dagy server --no-worker` in a fresh DAGY_HOME (SQLite, or a throw-away PostgreSQL database
with `--postgres`), the private-network switch on so the webhook may be on loopback, and a local
HTTP receiver (a threaded `http.server`) that records every delivery. Creates a webhook channel
(signed with a secret) and an `on_failure` rule, triggers `--runs` runs on an executor no worker
serves, then plays the worker through the worker protocol: claims them in batches of 100 and
reports each attempt `failed` (16 at a time). Each failure writes its delivery in the transition's
transaction; the server's dispatcher sends them.

Reports the time from the first failure report to the last delivery received (the target: all
1,000 within 20 s), the time the failures themselves took, and duplicates (deliveries received
twice, runs alerted twice; both must be 0).

    python bench/alerts.py [--runs 1000] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from lists import throwaway_postgres
from run import setup, start_server, stop

EXECUTOR = "flow-executor"  # no worker serves it: the bench plays the worker
CLAIM_BATCH = 100
PARALLEL = 16


class Receiver:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str, str]] = []  # (time, delivery id, run id)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                run_id = json.loads(body)["run_id"]
                with receiver.lock:
                    receiver.arrivals.append((time.monotonic(), self.headers["X-Dagy-Delivery"], run_id))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        Server = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 256})  # a deep accept backlog
        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def trigger_all(base: str, headers: dict[str, str], runs: int) -> list[str]:
    limit = asyncio.Semaphore(PARALLEL)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:

        async def one() -> str:
            async with limit:
                response = await client.post("/v1/runs", json={"flow_name": "bench-flow"})
                response.raise_for_status()
                return str(response.json()["run_id"])

        return list(await asyncio.gather(*(one() for _ in range(runs))))


async def fail_all(base: str, worker_token: str, runs: int) -> float:
    """Claim every run and report it failed; answer when the first report was sent."""
    headers = {"Authorization": f"Bearer {worker_token}"}
    limit = asyncio.Semaphore(PARALLEL)
    first: list[float] = []
    error = {"type": "exception", "message": "RuntimeError: the bench fails every run"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:

        async def fail(run_id: str) -> None:
            async with limit:
                first.append(time.monotonic())
                body = {"worker_id": "bench", "attempt": 1, "status": "failed", "error": error}
                (await client.post(f"/v1/workers/runs/{run_id}/complete", json=body)).raise_for_status()

        done = 0
        while done < runs:
            claim = {"worker_id": "bench", "executor": EXECUTOR, "capacity": CLAIM_BATCH, "wait_seconds": 0}
            claimed = (await client.post("/v1/workers/claim", json=claim)).json()["runs"]
            await asyncio.gather(*(fail(run["run_id"]) for run in claimed))
            done += len(claimed)
    return min(first)


def measure(database_url: str | None, runs: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="dagy-bench-alerts-"))
    port = free_port()
    os.environ["DAGY_ALLOW_PRIVATE_NETWORK"] = "true"
    server = start_server(home, port, database_url=database_url, worker=False)
    base = f"http://127.0.0.1:{port}"
    try:
        with receiving() as receiver:
            token, org_id = setup(base, default_executor=EXECUTOR)
            headers = {"Authorization": f"Bearer {token}", "X-Org-Id": org_id}
            channel = {
                "name": "bench",
                "channel_type": "webhook",
                "config_json": {"url": receiver.url, "secret": "s"},
            }
            channel_id = httpx.post(f"{base}/v1/channels", json=channel, headers=headers).json()["channel_id"]
            rule = {
                "name": "bench",
                "trigger": "on_failure",
                "channel_ids": [channel_id],
                "flow_name": "bench-flow",
            }
            httpx.post(f"{base}/v1/alert-rules", json=rule, headers=headers).raise_for_status()
            run_ids = asyncio.run(trigger_all(base, headers, runs))
            worker_token = (home / "worker.token").read_text().strip()
            started = time.monotonic()
            first_failure = asyncio.run(fail_all(base, worker_token, runs))
            failed_in = time.monotonic() - started
            deadline = time.monotonic() + 120
            while len({run for _, _, run in receiver.arrivals}) < runs and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(2)  # anything sent twice arrives now
            with receiver.lock:
                arrivals = list(receiver.arrivals)
    finally:
        stop(server)
    per_second = Counter(int(t - first_failure) for t, _, _ in arrivals)
    deliveries = Counter(delivery for _, delivery, _ in arrivals)
    alerted = Counter(run for _, _, run in arrivals)
    return {
        "database": "postgresql" if database_url else "sqlite",
        "runs": runs,
        "received": len(arrivals),
        "runs_alerted": len(set(alerted) & set(run_ids)),
        "duplicate_deliveries": sum(n - 1 for n in deliveries.values()),
        "runs_alerted_twice": sum(1 for n in alerted.values() if n > 1),
        "fail_reports_seconds": round(failed_in, 2),
        "first_failure_to_last_delivery_seconds": round(max(t for t, _, _ in arrivals) - first_failure, 2),
        "received_per_second": [per_second[second] for second in range(max(per_second) + 1)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument(
        "--postgres", default=None, help="a PostgreSQL server URL; a throw-away database on it"
    )
    args = parser.parse_args()
    database = throwaway_postgres(args.postgres) if args.postgres else nullcontext(None)
    with database as url:
        print(json.dumps(measure(url, args.runs), indent=2))


if __name__ == "__main__":
    main()
