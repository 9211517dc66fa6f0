"""`/retention` and the purge: each org's settings, what the batched purge removes and keeps (old
terminal runs with their logs, node runs and objects; never a running run; another org per its own
settings; audit rows), usage figures that survive the purge, and `dagy db vacuum`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from dagy.cli.main import app as cli
from dagy.runtime.objects import run_objects_prefix
from dagy.server.db.base import utcnow
from dagy.server.db.models import AuditLog, NodeRun, Run, RunLog
from dagy.server.domains.retention import service
from dagy.server.services.retention import OBJECTS_DIR, Purge
from dagy.server.settings import RetentionSettings, Settings
from tests.factories import Caller, add_member, new_org
from tests.flow_factories import (
    claim_runs,
    python_node,
    register_flow,
    spec,
    trigger,
    worker_headers,
    worker_post,
)

OK = "def main(inputs, params):\n    return params\n"
AGE = timedelta(days=40)

pytestmark = pytest.mark.settings("own_pool_settings")


def put(client: TestClient, caller: Caller, body: dict[str, Any]) -> Any:
    return client.put("/v1/retention", headers=caller.headers, json=body)


def test_settings_validation_permissions_audit_and_another_org(
    app: FastAPI, client: TestClient, owner: Caller
) -> None:
    empty = {
        k: None for k in ("runs_days", "logs_days", "node_outputs_days", "audit_days", "sensor_events_days")
    }
    assert client.get("/v1/retention", headers=owner.headers).json() == empty | {"effective": empty}

    for field, value in (("runs_days", 3), ("audit_days", 5), ("logs_days", 0), ("sensor_events_days", "x")):
        refused = put(client, owner, {field: value})
        assert refused.status_code == 400, refused.text
        assert field in refused.json()["details"], refused.json()
    unknown = put(client, owner, {"forever": 1})
    assert unknown.status_code == 400 and "forever" in unknown.json()["details"]

    saved = put(client, owner, {"runs_days": 30, "logs_days": 7})
    assert saved.status_code == 200, saved.text
    assert saved.json()["runs_days"] == 30 and saved.json()["effective"]["logs_days"] == 7
    assert client.get("/v1/retention", headers=owner.headers).json() == saved.json()

    trail = client.get("/v1/audit-logs", headers=owner.headers, params={"resource_type": "retention"}).json()
    assert trail["items"][0]["changes"] == {"runs_days": [None, 30], "logs_days": [None, 7]}

    member = add_member(app, client, owner, "developer")
    assert client.get("/v1/retention", headers=member.headers).status_code == 403
    assert put(client, member, {"runs_days": 7}).status_code == 403
    admin = add_member(app, client, owner, "admin")
    assert put(client, admin, {"runs_days": 60}).json()["logs_days"] is None  # PUT replaces the whole setting

    other = new_org(app, client)
    assert client.get("/v1/retention", headers=other.headers).json() == empty | {"effective": empty}


def test_installation_defaults_apply_where_the_org_sets_nothing(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller
) -> None:
    assert put(client, owner, {"audit_days": 400}).status_code == 200
    defaults = settings.model_copy(update={"retention": RetentionSettings(runs_days=90, audit_days=365)})
    now = utcnow()
    with app.state.db.transaction(write=False) as session:
        plans = service.purge_plan(session, settings=defaults, now=now)
    mine = next(plan for plan in plans if plan.org_id == owner.org_id)
    assert mine.runs == now - timedelta(days=90) and mine.audit == now - timedelta(days=400)
    assert mine.logs is None and mine.sensor_events is None  # no default: kept forever


def finished_run(
    client: TestClient, settings: Settings, caller: Caller, pool: str, flow: str, *, lines: int
) -> str:
    """A run of `flow` claimed, with `lines` log lines and one node run, completed."""
    run_id = trigger(client, caller, flow)["run_id"]
    [claimed] = claim_runs(client, worker_headers(settings), pool)
    assert claimed["run_id"] == run_id
    body = {
        "worker_id": "w1",
        "attempt": 1,
        "lines": [{"timestamp": "2026-01-01T00:00:00Z", "message": f"l{i}"} for i in range(lines)],
    }
    assert worker_post(client, settings, run_id, "logs", body).json()["accepted"] == lines
    done = {
        "worker_id": "w1",
        "attempt": 1,
        "status": "completed",
        "output": {},
        "node_runs": [{"node_id": "only", "node_type": "task", "status": "completed", "output": {"rows": 1}}],
    }
    assert worker_post(client, settings, run_id, "complete", done).status_code == 200
    return run_id


def age(app: FastAPI, run_ids: list[str]) -> None:
    """Move the runs' creation and last change `AGE` into the past (timestamps only, never a status)."""
    then = utcnow() - AGE
    with app.state.db.transaction(write=True) as session:
        session.execute(update(Run).where(Run.id.in_(run_ids)).values(created_at=then, updated_at=then))


def count(app: FastAPI, model: Any, *where: Any) -> int:
    with app.state.db.transaction(write=False) as session:
        return int(session.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


# A database of its own: the usage of the day its runs are aged into must not have been rolled up by
# another test on the shared database (the purge rolls up a day only while it is not computed yet).
@pytest.mark.settings("own_database_settings")
def test_the_purge_removes_old_terminal_runs_in_batches_and_keeps_the_rest(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pool: str
) -> None:
    other = new_org(app, client)
    assert put(client, owner, {"runs_days": 30, "audit_days": 30}).status_code == 200
    assert put(client, other, {"runs_days": 60, "logs_days": 30}).status_code == 200
    flow = register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)
    theirs = register_flow(client, other, spec(python_node("only", OK)), default_executor=pool)

    old = finished_run(client, settings, owner, pool, flow, lines=5)
    recent = finished_run(client, settings, owner, pool, flow, lines=2)
    their_old = finished_run(client, settings, other, pool, theirs, lines=3)
    running = trigger(client, owner, flow)["run_id"]
    claim_runs(client, worker_headers(settings), pool)
    queued = trigger(client, owner, flow)["run_id"]
    age(app, [old, their_old, running, queued])
    folder = settings.home / OBJECTS_DIR / run_objects_prefix(owner.org_id, old) / "outputs" / "1"
    folder.mkdir(parents=True)
    (folder / "only.json").write_text("[]")
    with app.state.db.transaction(write=True) as session:  # the org's audit rows so far are old
        for org_id in (owner.org_id, other.org_id):
            session.execute(
                update(AuditLog).where(AuditLog.org_id == org_id).values(timestamp=utcnow() - AGE)
            )
    old_day = (utcnow() - AGE).date().isoformat()
    params = {"start_date": old_day, "end_date": old_day}

    small = settings.model_copy(update={"retention": RetentionSettings(batch_size=2)})
    purge = Purge(app.state.db, small)
    counts = purge.run()

    assert count(app, Run, Run.id == old) == 0
    assert count(app, RunLog, RunLog.run_id == old) == 0 and count(app, NodeRun, NodeRun.run_id == old) == 0
    assert not folder.exists()
    for kept in (recent, running, queued, their_old):
        assert count(app, Run, Run.id == kept) == 1, kept
    assert count(app, RunLog, RunLog.run_id == recent) == 2
    assert count(app, RunLog, RunLog.run_id == their_old) == 0  # the other org's logs_days
    assert count(app, NodeRun, NodeRun.run_id == their_old) == 1
    assert count(app, AuditLog, AuditLog.org_id == owner.org_id) == 0
    assert count(app, AuditLog, AuditLog.org_id == other.org_id) > 0  # it keeps audit forever
    assert counts["run"] >= 1 and counts["run_log"] >= 8
    assert purge.transactions >= 8  # batches of 2 rows: many small transactions

    # The purged run still counts in its day's usage: the day was rolled up before it went.
    day = client.get("/v1/usage/timeseries", headers=owner.headers, params=params).json()["items"][0]
    assert day["run_count"] == 3  # old, running, queued
    assert Purge(app.state.db, small).run()["run"] == 0  # a second pass finds nothing more


def test_db_vacuum(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGY_HOME", str(settings.home))
    monkeypatch.setenv("DAGY_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(cli, ["db", "vacuum"])
    assert result.exit_code == 0, result.output
    expected = "VACUUM (the whole SQLite file)" if settings.is_sqlite else "VACUUM (ANALYZE) run_log"
    assert expected in result.output
