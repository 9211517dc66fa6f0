"""The purge: every `retention.purge_seconds`, each org's data older than its retention goes.

Per org, in small transactions (`retention.batch_size` rows each; runs a twentieth of it, as each
takes its node runs and events along): log lines and node outputs of terminal runs that ended
before their cut-offs, then the terminal runs themselves (their log lines first, batch by batch,
so no transaction deletes a run's whole log at once), audit rows, and sensor events without a
dedup key. A queued or running run is never touched. The objects a purged run stored (large node
outputs, under its folder of the object store) are removed once the rows are gone.

Several copies side by side are safe: batches take their rows with `SKIP LOCKED` on PostgreSQL and
every delete is by primary key, so a row is removed once. One commit per batch; nothing holds a
table lock, so inserts (a running run's log lines) go on while it works.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import anyio.to_thread

from dagy.runtime.objects import run_objects_prefix
from dagy.server.db.base import utcnow
from dagy.server.db.engine import Database
from dagy.server.domains.retention import service
from dagy.server.domains.retention.service import Cutoffs
from dagy.server.settings import Settings

log = logging.getLogger("dagy.server.retention")

OBJECTS_DIR = "objects"  # under DAGY_HOME, as in domains/flows/service.py
RUNS_PER_WALK = 500  # runs whose logs or outputs one walk step looks at


class Purge:
    """One pass over every org; `counts` says what went (table -> rows)."""

    def __init__(self, db: Database, settings: Settings, *, now: datetime | None = None) -> None:
        self.db = db
        self.settings = settings
        self.now = now or utcnow()
        self.batch = settings.retention.batch_size
        self.run_batch = max(1, self.batch // 20)
        self.objects = settings.home / OBJECTS_DIR
        self.counts: Counter[str] = Counter()
        self.transactions = 0

    def run(self) -> Counter[str]:
        with self.db.transaction(write=False) as session:
            plans = service.purge_plan(session, settings=self.settings, now=self.now)
        for plan in plans:
            self._org(plan)
        return self.counts

    def _org(self, plan: Cutoffs) -> None:
        if plan.logs is not None:
            self._walk(plan.org_id, plan.logs, self._purge_logs)
        if plan.node_outputs is not None:
            self._walk(plan.org_id, plan.node_outputs, self._purge_outputs)
        if plan.runs is not None:
            self._purge_runs(plan.org_id, plan.runs)
        if plan.audit is not None:
            self._repeat("audit_log", service.delete_audit, org_id=plan.org_id, cutoff=plan.audit)
        if plan.sensor_events is not None:
            self._repeat(
                "sensor_event", service.delete_sensor_events, org_id=plan.org_id, cutoff=plan.sensor_events
            )

    def _walk(self, org_id: str, cutoff: datetime, step: Callable[[str, list[str]], None]) -> None:
        """`step(org_id, run_ids)` over the org's terminal runs that ended before `cutoff`."""
        after = None
        while True:
            with self.db.transaction(write=False) as session:
                found = service.terminal_runs(
                    session, org_id=org_id, cutoff=cutoff, after=after, limit=RUNS_PER_WALK
                )
            if not found:
                return
            step(org_id, [run_id for _, run_id in found])
            after = found[-1]

    def _purge_logs(self, _org_id: str, run_ids: list[str]) -> None:
        self._repeat("run_log", service.delete_logs, run_ids=run_ids)

    def _purge_outputs(self, org_id: str, run_ids: list[str]) -> None:
        self._repeat("node_run_output", service.clear_node_outputs, run_ids=run_ids)
        self._remove(org_id, run_ids, "outputs")

    def _purge_runs(self, org_id: str, cutoff: datetime) -> None:
        self._finish_usage(org_id, cutoff)
        while True:
            with self.db.transaction(write=False) as session:
                found = service.terminal_runs(
                    session, org_id=org_id, cutoff=cutoff, after=None, limit=self.run_batch
                )
            if not found:
                return
            run_ids = [run_id for _, run_id in found]
            self._repeat("run_log", service.delete_logs, run_ids=run_ids)
            with self.db.transaction(write=True) as session:
                locked = service.terminal_runs(
                    session, org_id=org_id, cutoff=cutoff, after=None, limit=self.run_batch, lock=True
                )
                ids = [run_id for _, run_id in locked if run_id in set(run_ids)]
                self._count("run", service.delete_runs(session, run_ids=ids))
            self._remove(org_id, ids, "")
            if len(found) < self.run_batch:
                return

    def _finish_usage(self, org_id: str, cutoff: datetime) -> None:
        """Roll up, first, the days of the runs about to go that the roll-up has not finished."""
        with self.db.transaction(write=False) as session:
            days = service.usage_days_to_finish(session, org_id=org_id, cutoff=cutoff)
        for day in days:
            with self.db.transaction(write=True) as session:
                service.roll_up_day(session, day=day, now=utcnow())

    def _repeat(self, table: str, step: Callable[..., int], **arguments: object) -> None:
        """`step(session, limit=batch, **arguments)`, a transaction each, until a batch comes up short."""
        while True:
            with self.db.transaction(write=True) as session:
                done = step(session, limit=self.batch, **arguments)
            self._count(table, done)
            if done < self.batch:
                return

    def _count(self, table: str, rows: int) -> None:
        self.transactions += 1
        if rows:
            self.counts[table] += rows

    def _remove(self, org_id: str, run_ids: list[str], inside: str) -> None:
        for run_id in run_ids:
            folder: Path = self.objects / run_objects_prefix(org_id, run_id) / inside
            shutil.rmtree(folder, ignore_errors=True)


def purge_once(db: Database, settings: Settings, *, now: datetime | None = None) -> Counter[str]:
    """One pass over every org; rows purged per table."""
    return Purge(db, settings, now=now).run()


async def run_retention(db: Database, *, settings: Settings, stop: asyncio.Event) -> None:
    interval = settings.retention.purge_seconds
    while not stop.is_set():
        try:
            counts = await anyio.to_thread.run_sync(purge_once, db, settings)
            if counts:
                log.info(
                    "retention purged %s", ", ".join(f"{n} {table}" for table, n in sorted(counts.items()))
                )
        except Exception:  # a database hiccup must not end the loop
            log.exception("retention purge failed; retrying in %.1fs", interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


# The tables the purge deletes from (`dagy db vacuum`).
PURGED_TABLES = ("run_log", "node_run", "run_event", "run", "schedule_fire", "sensor_event", "audit_log")


def vacuum(db: Database) -> list[str]:
    """Give back what the purge freed: `VACUUM (ANALYZE)` of each purged table on PostgreSQL (outside
    a transaction, as VACUUM must be; it takes no lock that blocks reads or writes), `VACUUM` of the
    whole file on SQLite (it waits for the writer lock). Answers what was done, one line each."""
    if db.is_sqlite:
        raw = db.engine.raw_connection()  # pysqlite in autocommit (db/engine.py): no open transaction
        try:
            raw.cursor().execute("VACUUM")
        finally:
            raw.close()
        return ["VACUUM (the whole SQLite file)"]
    done = []
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in PURGED_TABLES:
            connection.exec_driver_sql(f"VACUUM (ANALYZE) {table}")
            done.append(f"VACUUM (ANALYZE) {table}")
    return done
