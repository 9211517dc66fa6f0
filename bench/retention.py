"""The retention purge against live inserts (docs/operations.md, "Retention").

On a throwaway PostgreSQL database: `--runs` terminal runs created 400 days ago holding `--lines`
log lines in all (default 1,000 runs of 1,000 lines = 1,000,000), and one running run. The org keeps
runs 30 days. While `purge_once` runs (the services loop's pass), a writer in a process of its own
inserts log lines of the running run one transaction at a time, as a worker's log batches do, and
records each insert's latency. Reports the purge's time and rows, and the inserts' count, p50, p99
and max (target: no insert blocked more than 100 ms). The seed writes rows directly (SQL), not
through the API: a million log lines through HTTP would measure the API, not the purge.

    .venv/bin/python bench/retention.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
from lists import throwaway_postgres

from dagy.server.db.base import utcnow
from dagy.server.db.engine import Database, create_database
from dagy.server.db.migrate import upgrade
from dagy.server.db.models import Flow, FlowVersion, Org, OrgRetention, Run
from dagy.server.services.retention import Purge
from dagy.server.settings import RetentionSettings, Settings


def seed(db: Database, runs: int, lines: int) -> tuple[str, str]:
    """The org, its old terminal runs and their log lines, and one running run: (org id, running id)."""
    old = utcnow() - timedelta(days=400)
    with db.transaction(write=True) as session:
        org = Org(name="bench-retention", plan="enterprise", owner_email="bench@example.com")
        session.add(org)
        session.flush()
        flow = Flow(org_id=org.id, name="bench", latest_version="1")
        session.add(flow)
        session.flush()
        version = FlowVersion(
            org_id=org.id, flow_id=flow.id, version="1", deployment_version=1, code_hash="0"
        )
        session.add(version)
        session.flush()
        common = {"org_id": org.id, "flow_id": flow.id, "flow_version_id": version.id, "flow_name": "bench"}
        common |= {"flow_version": "1", "executor": "local"}
        session.add_all(
            Run(**common, run_slug=f"old-{i}", status="completed", created_at=old, updated_at=old)
            for i in range(runs)
        )
        live = Run(**common, run_slug="live", status="running")
        session.add(live)
        session.add(OrgRetention(org_id=org.id, runs_days=30))
        session.flush()
        org_id, live_id = org.id, live.id
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO run_log (run_id, attempt, timestamp, message, ingestion_time) "
                "SELECT r.id, 1, :old, 'old line ' || g, :old FROM "
                "(SELECT id, row_number() OVER (ORDER BY id) AS n FROM run WHERE status = 'completed') r "
                "CROSS JOIN generate_series(1, :per) g"
            ),
            {"old": old, "per": lines // runs},
        )
        connection.execute(text("ANALYZE run_log; ANALYZE run"))
    return org_id, live_id


def writer(url: str, run_id: str, stop: Event, latencies: Queue) -> None:  # type: ignore[type-arg]
    """In a process of its own, as an API process inserting a worker's log batches is: one log line
    per transaction until `stop`; each insert's (start time, latency in ms). In the purge's process
    the writer would also wait for the interpreter lock the purge holds, which is not the database
    blocking it."""
    db = create_database(url)
    statement = text(
        "INSERT INTO run_log (run_id, attempt, timestamp, message, ingestion_time) "
        "VALUES (:run, 1, now(), 'live line', now())"
    )
    measured: list[tuple[float, float]] = []
    while not stop.is_set():
        started = time.perf_counter()
        with db.engine.begin() as connection:
            connection.execute(statement, {"run": run_id})
        measured.append((time.time(), (time.perf_counter() - started) * 1000))
        time.sleep(0.002)
    latencies.put(measured)
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres", required=True, help="a PostgreSQL server URL (a database is made on it)"
    )
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=RetentionSettings().batch_size)
    args = parser.parse_args()
    with throwaway_postgres(args.postgres) as url, tempfile.TemporaryDirectory() as home:
        upgrade(url, "head")
        db = create_database(url)
        seeded = time.perf_counter()
        _org, live = seed(db, args.runs, args.lines)
        seed_seconds = time.perf_counter() - seeded
        settings = Settings(
            home=Path(home), database_url=url, retention=RetentionSettings(batch_size=args.batch_size)
        )
        spawn = multiprocessing.get_context("spawn")
        stop, results = spawn.Event(), spawn.Queue()
        process = spawn.Process(target=writer, args=(url, live, stop, results))
        process.start()
        time.sleep(3.0)  # the writer's start and baseline
        started_at, started = time.time(), time.perf_counter()
        purge = Purge(db, settings)
        counts = purge.run()
        purge_seconds = time.perf_counter() - started
        ended_at = time.time()
        stop.set()
        measured = results.get(timeout=60)
        process.join()
        during = sorted(ms for at, ms in measured if started_at <= at <= ended_at)
        with db.engine.connect() as connection:
            left = connection.execute(
                text("SELECT count(*) FROM run_log WHERE run_id <> :r"), {"r": live}
            ).scalar()
        db.dispose()
    print(
        json.dumps(
            {
                "seed_seconds": round(seed_seconds, 1),
                "purge_seconds": round(purge_seconds, 2),
                "purged": dict(counts),
                "transactions": purge.transactions,
                "old_log_lines_left": left,
                "inserts_during_purge": len(during),
                "insert_ms_p50": round(statistics.median(during), 2),
                "insert_ms_p99": round(during[int(len(during) * 0.99) - 1], 2),
                "insert_ms_max": round(during[-1], 2),
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
