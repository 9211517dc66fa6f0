"""Scheduler benchmark: 10,000 enabled cron schedules due at the same minute, on PostgreSQL.

(a) Due to queued: the time the scheduler's `tick()` takes, from the due instant, to fire every one
    of them (one run queued per schedule, its fire row recorded, `next_run_at` moved on), with
    1, 2 and 4 schedulers ticking at once (threads, each with its own engine, as separate
    `dagy scheduler` processes would). A fresh set of 10,000 schedules per round.
(b) An idle tick: the cost of a tick with 0 due among the 10,000 (and among 10,000 more), which
    is what a scheduler pays every second; with the due query's plan (`ix_schedule_due`).

    python bench/scheduler.py [--schedules 10000] [--rounds 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from dagy.server.db.engine import Database, create_database
from dagy.server.db.migrate import upgrade
from dagy.server.domains.auth import repository as users
from dagy.server.domains.flows import registration as flows
from dagy.server.domains.flows.schemas import FlowCreate
from dagy.server.domains.orgs import service as orgs
from dagy.server.domains.orgs.schemas import OrgCreate
from dagy.server.domains.schedules import service as schedules
from dagy.server.domains.schedules.schemas import ScheduleCreate
from dagy.server.identity import Actor, Principal, PrincipalKind
from dagy.server.rbac import Role, permissions_of
from dagy.server.services.scheduler import tick
from dagy.server.settings import Settings

SPEC = {
    "nodes": [{"id": "only", "type": "python_function", "data": {"code": "def main(i, p):\n    return 1\n"}}]
}


def org_with_flow(db: Database, settings: Settings) -> Actor:
    email = f"bench-{secrets.token_hex(4)}@example.com"
    with db.transaction(write=True) as session:
        user = users.add_user(session, email)
        principal = Principal(
            kind=PrincipalKind.SESSION,
            user_id=user.id,
            email=email,
            org_id=None,
            org_name=None,
            role=None,
            permissions=frozenset(),
        )
        org = orgs.create_org(
            session,
            actor=Actor(principal=principal),
            data=OrgCreate(org_name=email, plan="enterprise"),
            settings=settings,
        )
        member = Principal(
            kind=PrincipalKind.SESSION,
            user_id=user.id,
            email=email,
            org_id=org.org_id,
            org_name=None,
            role=Role.OWNER,
            permissions=permissions_of(Role.OWNER),
        )
        actor = Actor(principal=member)
        flows.register_flow_version(
            session, actor=actor, data=FlowCreate(flow_name="bench", flow_spec=SPEC), settings=settings
        )
    return actor


def add_schedules(db: Database, actor: Actor, count: int, minute: datetime) -> None:
    """`count` daily cron schedules due at `minute` (UTC)."""
    expression = f"{minute.minute} {minute.hour} * * *"
    with db.transaction(write=True) as session:
        for i in range(count):
            data = ScheduleCreate.model_validate(
                {
                    "schedule_id": f"s-{i:05d}",
                    "flow_name": "bench",
                    "mode": "cron",
                    "cron_expression": expression,
                }
            )
            schedules.create_schedule(session, actor=actor, data=data)


def fire_all(dbs: list[Database], settings: Settings, now: datetime) -> tuple[float, int]:
    """Every scheduler ticks at `now` at once; seconds until the last one finished, runs queued."""
    queued: list[int] = []
    barrier = threading.Barrier(len(dbs))

    def run(db: Database) -> None:
        barrier.wait()
        queued.append(tick(db, settings=settings, now=now).queued)

    threads = [threading.Thread(target=run, args=(db,)) for db in dbs]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(queued)


def idle_tick_ms(db: Database, settings: Settings, now: datetime, repeat: int = 200) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = tick(db, settings=settings, now=now)
        timings.append((time.perf_counter() - started) * 1000)
        assert result.schedules == 0
    return statistics.median(timings)


def due_plan(db: Database, now: datetime) -> str:
    """The idle tick's probe, as PostgreSQL runs it."""
    with db.engine.connect() as connection:
        rows = connection.execute(
            text("EXPLAIN ANALYZE SELECT id FROM schedule WHERE enabled AND next_run_at <= :now LIMIT 1"),
            {"now": now},
        )
        return "\n".join(f"    {row[0]}" for row in rows)


def analyze(db: Database) -> None:
    """What autovacuum does after a bulk load: fresh statistics for the planner."""
    with db.engine.connect() as connection:
        connection.execute(text("ANALYZE schedule"))
        connection.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    server = make_url(args.postgres)
    name = f"dagy_bench_scheduler_{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        with tempfile.TemporaryDirectory() as home:
            run(url, Path(home), args)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(url: str, home: Path, args: argparse.Namespace) -> None:
    settings = Settings(home=home, database_url=url)
    settings.ensure_home()
    pool = [create_database(url) for _ in range(4)]
    db = pool[0]
    base = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    print(f"{args.schedules} schedules due at the same minute, PostgreSQL")
    for schedulers in (1, 2, 4):
        seconds = []
        for round_ in range(args.rounds):
            minute = base + timedelta(minutes=10 * (schedulers * args.rounds + round_))
            add_schedules(pool[0], org_with_flow(db, settings), args.schedules, minute)
            elapsed, queued = fire_all(pool[:schedulers], settings, minute + timedelta(milliseconds=200))
            assert queued == args.schedules, queued
            seconds.append(elapsed)
        rate = args.schedules / statistics.median(seconds)
        print(
            f"  {schedulers} scheduler(s): due to all queued {statistics.median(seconds):.2f} s median "
            f"(rounds {', '.join(f'{s:.2f}' for s in seconds)}), {rate:,.0f} runs/s"
        )
    idle_at = base - timedelta(minutes=1)
    analyze(db)
    with db.transaction(write=False) as session:
        total = session.execute(text("SELECT count(*) FROM schedule WHERE enabled")).scalar_one()
    print(f"  idle tick, 0 due among {total:,} enabled: {idle_tick_ms(db, settings, idle_at):.2f} ms median")
    add_schedules(db, org_with_flow(db, settings), args.schedules, base + timedelta(hours=5))
    analyze(db)
    print(
        f"  idle tick, 0 due among {total + args.schedules:,} enabled: "
        f"{idle_tick_ms(db, settings, idle_at):.2f} ms median"
    )
    print("  the idle tick's probe:\n" + due_plan(db, idle_at))
    for database in pool:
        database.dispose()


if __name__ == "__main__":
    main()
