"""`dagy services`: the background loops in a process of their own, beside the API (which here is
the test's app, as a `dagy server --no-services` replica would be) on PostgreSQL. A one-time
schedule due in two seconds is fired by that process; SIGTERM stops it cleanly (exit 0, no
traceback). On SQLite the command is refused: `dagy server` runs the loops itself there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dagy.server.settings import Settings
from tests.factories import Caller, unique
from tests.flow_factories import python_node, register_flow, spec

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 60  # generous: the process starts beside other test processes


def _services(settings: Settings) -> subprocess.Popen[str]:
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "DAGY_HOME": str(settings.home),
        "DAGY_DATABASE_URL": settings.database_url,
        "DAGY_LOG_LEVEL": "info",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "dagy.cli", "services"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_services_are_refused_on_sqlite(settings: Settings) -> None:
    if not settings.is_sqlite:
        pytest.skip("the refusal is SQLite's")
    process = _services(settings)
    _, stderr = process.communicate(timeout=DEADLINE_SECONDS)
    assert process.returncode == 2
    assert "PostgreSQL" in stderr and "Traceback" not in stderr


def test_services_fire_a_schedule_and_stop_on_sigterm(
    client: TestClient, owner: Caller, settings: Settings
) -> None:
    if settings.is_sqlite:
        pytest.skip("dagy services runs beside API replicas on PostgreSQL")
    flow = register_flow(
        client, owner, spec(python_node("only", "def main(inputs, params):\n    return 1\n"))
    )
    start = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    schedule_id = unique("sched")
    created = client.post(
        "/v1/schedules",
        headers=owner.headers,
        json={"schedule_id": schedule_id, "flow_name": flow, "mode": "one_time", "start_at": start},
    )
    assert created.status_code == 201, created.text

    process = _services(settings)
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        fired = None
        while fired is None and time.monotonic() < deadline and process.poll() is None:
            schedule = client.get(f"/v1/schedules/{schedule_id}", headers=owner.headers).json()
            fired = schedule["last_run_id"]
            time.sleep(0.2)
        assert process.poll() is None, process.communicate()
        assert fired is not None, "the services process did not fire the schedule"
        run = client.get(f"/v1/runs/{fired}", headers=owner.headers)
        assert run.status_code == 200 and run.json()["flow_name"] == flow

        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=DEADLINE_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "services stopped" in stdout
    assert "background services running" in stderr
    assert "Traceback" not in stderr
