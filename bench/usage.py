"""Usage dashboard benchmark: `GET /v1/usage/dashboard` for an org with 1,000,000 metered runs.

On a throw-away PostgreSQL database: `dagy server --no-worker` starts, an enterprise org registers
10 flows over HTTP, then 1,000,000 runs spread over the last 90 days (each with one node run of
1-10 s, four execution modes, three executors, 2 % failed) are generated with `generate_series`,
the roll-up computes the 90 days (`services/usage.py`), and the dashboard is requested
`--requests` times one after the other (after 20 warm-up requests). Reports p50/p90/p99 latency
and the seeding and roll-up times. The dashboard reads the roll-ups and today's runs live, never a
scan of the raw rows.

    python bench/usage.py [--runs 1000000] [--requests 200] [--postgres-server URL]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from lists import throwaway_postgres
from run import SUPERADMIN, start_server, stop
from sqlalchemy import create_engine, text

from dagy.server.db.engine import create_database
from dagy.server.domains.usage.metering import rollup_day

FLOWS = 10
DAYS = 90

_RUNS = """
INSERT INTO run (id, org_id, flow_id, flow_version_id, flow_name, flow_version, run_slug, status,
                 executor, execution_mode, priority, parameters, tags, retry_count, max_retries,
                 attempt, cancel_requested, trigger, created_at, updated_at)
SELECT 'run_bench_' || i, :org, v.flow_id, v.id, f.name, v.version, f.name || '-bench-' || i,
       CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'completed' END,
       (ARRAY['local', 'flow-executor', 'gpu'])[1 + i % 3],
       (ARRAY['nano', 'micro', 'small', 'medium'])[1 + i % 4],
       100, '{}'::jsonb, '[]'::jsonb, 0, 0, 1, false, 'api_key',
       now() - (i::float / :runs) * interval '90 days', now()
FROM generate_series(1, :runs) AS i
JOIN LATERAL (SELECT id, name FROM flow WHERE org_id = :org ORDER BY name OFFSET i % :flows LIMIT 1) f ON true
JOIN flow_version v ON v.flow_id = f.id
"""

_NODE_RUNS = """
INSERT INTO node_run (id, run_id, attempt, node_id, node_type, status, tries, started_at, completed_at,
                      updated_at)
SELECT 'node_bench_' || substr(r.id, 11), r.id, 1, 'only', 'python_function', r.status, 1, r.created_at,
       r.created_at + (1 + (substr(r.id, 11)::int % 10)) * interval '1 second', r.created_at
FROM run r WHERE r.org_id = :org
"""


def setup(base: str) -> tuple[dict[str, str], str]:
    token = httpx.post(f"{base}/v1/auth/login", json={"email": SUPERADMIN}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    org = httpx.post(
        f"{base}/v1/orgs", json={"org_name": "bench-usage", "plan": "enterprise"}, headers=headers
    )
    org.raise_for_status()
    headers["X-Org-Id"] = org_id = str(org.json()["org_id"])
    node = {"id": "only", "type": "python_function", "data": {"code": "def main(i, p):\n    return {}\n"}}
    for i in range(FLOWS):
        body = {"flow_name": f"flow-{i:02d}", "flow_spec": {"nodes": [node], "edges": []}}
        httpx.post(f"{base}/v1/flows", json=body, headers=headers).raise_for_status()
    return headers, org_id


def seed(url: str, org_id: str, runs: int) -> float:
    started = time.monotonic()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(_RUNS), {"org": org_id, "runs": runs, "flows": FLOWS})
        connection.execute(text(_NODE_RUNS), {"org": org_id})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()
    return time.monotonic() - started


def roll_up(url: str) -> float:
    """Every day of the seeded range recomputed (the server's services rolled those days up, empty,
    when it started: the runs were generated into the past afterwards)."""
    started = time.monotonic()
    db = create_database(url)
    today = datetime.now(UTC).date()
    for back in range(DAYS + 1, -1, -1):
        with db.transaction(write=True) as session:
            rollup_day(session, day=today - timedelta(days=back), now=datetime.now(UTC))
    db.dispose()
    return time.monotonic() - started


def measure(base: str, headers: dict[str, str], requests: int) -> list[float]:
    timings = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for i in range(20 + requests):
            started = time.perf_counter()
            answer = client.get("/v1/usage/dashboard")
            elapsed = (time.perf_counter() - started) * 1000
            answer.raise_for_status()
            if i >= 20:
                timings.append(elapsed)
        summary = client.get("/v1/usage/summary").json()
        print(f"  this month: {summary['run_count']} runs, {summary['task_count']} tasks", file=sys.stderr)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--port", type=int, default=8113)
    parser.add_argument("--postgres-server", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="dagy-bench-usage-"))
    with throwaway_postgres(args.postgres_server) as url:
        server = start_server(home, args.port, database_url=url, worker=False)
        try:
            base = f"http://127.0.0.1:{args.port}"
            headers, org_id = setup(base)
            seeded = seed(url, org_id, args.runs)
            rolled = roll_up(url)
            timings = sorted(measure(base, headers, args.requests))
        finally:
            stop(server)
            shutil.rmtree(home, ignore_errors=True)
    quantiles = statistics.quantiles(timings, n=100)
    print(f"seeded {args.runs:,} runs (+ one node run each) over {DAYS} days in {seeded:.1f} s")
    print(f"roll-up of {DAYS + 2} days in {rolled:.1f} s")
    print(
        f"GET /v1/usage/dashboard x{args.requests}: p50 {statistics.median(timings):.1f} ms, "
        f"p90 {quantiles[89]:.1f} ms, p99 {quantiles[98]:.1f} ms"
    )


if __name__ == "__main__":
    main()
