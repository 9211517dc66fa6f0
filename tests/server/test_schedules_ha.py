"""Several schedulers on one PostgreSQL: two processes tick through the same five simulated minutes
of 1,000 schedules while a third is killed half way; every fire time runs exactly once.

The processes run the scheduler's own `tick()` with explicit `now` values (the simulated clock),
each with its own engine, exactly as `dagy scheduler` does with the real clock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dagy.server.app import create_app
from dagy.server.db.engine import create_database
from dagy.server.db.migrate import upgrade
from dagy.server.db.models import Run, ScheduleFire
from dagy.server.domains.schedules import service as schedules
from dagy.server.domains.schedules.schemas import ScheduleCreate
from dagy.server.identity import Actor, Principal, PrincipalKind
from dagy.server.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.conftest import _create_postgres_database as create_postgres_database
from tests.conftest import _drop_postgres_database as drop_postgres_database
from tests.factories import new_org
from tests.flow_factories import python_node, register_flow, spec

SCHEDULES = 1000
MINUTES = 5
ROOT = Path(__file__).resolve().parents[2]

# One scheduler process: ticks every simulated second from `first - 1s` to `first + MINUTES`.
SCHEDULER = textwrap.dedent(
    """
    import json, sys, time
    from datetime import datetime, timedelta
    from dagy.server.db.engine import create_database
    from dagy.server.services.scheduler import tick
    from dagy.server.settings import Settings

    url, home, first, seconds, start_at = sys.argv[1:6]
    settings = Settings(home=home, database_url=url)
    db = create_database(url)
    first = datetime.fromisoformat(first)
    while time.time() < float(start_at):
        time.sleep(0.01)
    queued = 0
    for second in range(-1, int(seconds) + 1):
        result = tick(db, settings=settings, now=first + timedelta(seconds=second), batch_size=50)
        queued += result.queued
        print(json.dumps({"second": second, "queued": queued}), flush=True)
    """
)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("needs DAGY_TEST_POSTGRES_URL")
    url, name = create_postgres_database()
    upgrade(url)
    yield url
    drop_postgres_database(name)


def _setup(url: str, home: Path, first: datetime) -> None:
    """An org, a flow and 1,000 schedules (half cron every minute, half every 60 s) from `first`."""
    settings = Settings(home=home, database_url=url, auth_mode="email", rate_limit_per_minute=100_000)
    app = create_app(settings, migrate=False)
    with TestClient(app) as client:
        owner = new_org(app, client)
        flow = register_flow(
            client, owner, spec(python_node("only", "def main(inputs, params):\n    return 1\n"))
        )
        principal = Principal(
            kind=PrincipalKind.SESSION,
            user_id=None,
            email=owner.email,
            org_id=owner.org_id,
            org_name=None,
            role="owner",
            permissions=frozenset(),
        )
        with app.state.db.transaction(write=True) as session:
            for i in range(SCHEDULES):
                timing = (
                    {"mode": "cron", "cron_expression": "* * * * *"}
                    if i % 2
                    else {"mode": "interval", "interval_seconds": 60}
                )
                data = ScheduleCreate.model_validate(
                    {"schedule_id": f"s-{i:04d}", "flow_name": flow, "start_at": first, **timing}
                )
                schedules.create_schedule(session, actor=Actor(principal=principal), data=data)


def test_two_schedulers_and_a_killed_one_fire_every_time_once(postgres_url: str, tmp_path: Path) -> None:
    first = (datetime.now(UTC) + timedelta(minutes=3)).replace(second=0, microsecond=0)
    _setup(postgres_url, tmp_path / "home", first)
    start_at = time.time() + 3
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}

    def scheduler() -> subprocess.Popen[str]:
        args = [postgres_url, str(tmp_path / "home"), first.isoformat(), str(MINUTES * 60), str(start_at)]
        return subprocess.Popen(
            [sys.executable, "-c", SCHEDULER, *args], stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path
        )

    survivors = [scheduler(), scheduler()]
    doomed = scheduler()
    while time.time() < start_at + 1.0:  # let it get into the first minute's batches
        time.sleep(0.05)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    outputs = [p.communicate(timeout=600)[0] for p in survivors]
    assert all(p.returncode == 0 for p in survivors)
    queued_by = [json.loads(out.strip().splitlines()[-1])["queued"] for out in outputs]

    db = create_database(postgres_url)
    try:
        with db.transaction(write=False) as session:
            per_time = session.execute(
                select(Run.schedule_id, Run.scheduled_for, func.count()).group_by(
                    Run.schedule_id, Run.scheduled_for
                )
            ).all()
            outcomes = dict(
                session.execute(
                    select(ScheduleFire.outcome, func.count()).group_by(ScheduleFire.outcome)
                ).all()
            )
    finally:
        db.dispose()
    expected_times = {first + timedelta(minutes=k) for k in range(MINUTES + 1)}
    assert max(count for _, _, count in per_time) == 1  # no duplicate
    by_schedule: dict[str, set[datetime]] = {}
    for schedule_id, scheduled_for, _ in per_time:
        by_schedule.setdefault(schedule_id, set()).add(scheduled_for)
    assert len(by_schedule) == SCHEDULES and all(t == expected_times for t in by_schedule.values())  # no miss
    assert outcomes == {"queued": SCHEDULES * (MINUTES + 1)}
    assert sum(queued_by) <= SCHEDULES * (MINUTES + 1)  # the killed one queued the rest, or nothing
    assert all(queued > 0 for queued in queued_by), queued_by
