"""`POST /schedules/{id}/backfill`: the window's fire times (in the schedule's zone), dry runs,
`reprocess` against existing runs, `order`, `max_active` honoured by the scheduler's release of held
fire times, and the refusals (400s naming the field, another org's schedule, a viewer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dagy.server.db.models import ScheduleFire
from dagy.server.domains.schedules import repository as repo
from dagy.server.services.scheduler import tick
from dagy.server.settings import Settings
from tests.factories import Caller, add_member, new_org, unique
from tests.flow_factories import claim_runs, python_node, register_flow, spec, worker_headers, worker_post

OK = "def main(inputs, params):\n    return params\n"

# The module's own database (the scheduler's ticks touch only its schedules) and worker pool (its
# claims take only its runs).
pytestmark = pytest.mark.settings("own_database_settings", "own_pool_settings")


@pytest.fixture
def pooled_flow(client: TestClient, owner: Caller, pool: str) -> str:
    return register_flow(client, owner, spec(python_node("only", OK)), default_executor=pool)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def create(client: TestClient, caller: Caller, flow: str, **body: Any) -> str:
    """A disabled schedule (the clock never fires it here): its id."""
    body = {
        "schedule_id": unique("sched"),
        "flow_name": flow,
        "mode": "cron",
        "cron_expression": "0 * * * *",
        "enabled": False,
    } | body
    response = client.post("/v1/schedules", headers=caller.headers, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["schedule_id"])


def backfill(client: TestClient, caller: Caller, schedule_id: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/v1/schedules/{schedule_id}/backfill", headers=caller.headers, json=body)
    assert response.status_code == (200 if body.get("dry_run") else 202), response.text
    result: dict[str, Any] = response.json()
    return result


def times(items: list[dict[str, Any]]) -> list[str]:
    return [item["scheduled_for"] for item in items]


def runs_of(client: TestClient, caller: Caller, schedule_id: str) -> list[dict[str, Any]]:
    page = client.get(f"/v1/schedules/{schedule_id}/runs", headers=caller.headers, params={"limit": 100})
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def status_of(client: TestClient, caller: Caller, run_id: str) -> str:
    return str(client.get(f"/v1/runs/{run_id}", headers=caller.headers).json()["status"])


def finish(client: TestClient, settings: Settings, run_id: str, status: str) -> None:
    body: dict[str, Any] = {"worker_id": "w1", "attempt": 1, "status": status}
    body |= {"error": {"type": "exception", "message": "boom"}} if status == "failed" else {"output": {}}
    response = worker_post(client, settings, run_id, "complete", body)
    assert response.status_code == 200, response.text


HOURS = ["2026-11-02T01:00:00Z", "2026-11-02T02:00:00Z", "2026-11-02T03:00:00Z", "2026-11-02T04:00:00Z"]
WINDOW = {"start": "2026-11-02T00:30:00Z", "end": "2026-11-02T04:00:00Z"}


def test_a_dry_run_lists_the_fire_times_in_the_schedule_zone_and_creates_nothing(
    client: TestClient, owner: Caller, flow: str
) -> None:
    # 09:00 in Paris: 08:00Z before the clocks move on 29 March 2026, 07:00Z after. The window's
    # bounds have no offset: they are read in Paris too (00:00 Paris on the 27th is 23:00Z the 26th).
    sid = create(client, owner, flow, cron_expression="0 9 * * *", timezone="Europe/Paris")
    body = {"start": "2026-03-27T00:00:00", "end": "2026-03-30T09:00:00", "dry_run": True, "max_active": 3}
    answer = backfill(client, owner, sid, **body)
    expected = [
        "2026-03-27T08:00:00Z",
        "2026-03-28T08:00:00Z",
        "2026-03-29T07:00:00Z",
        "2026-03-30T07:00:00Z",
    ]
    assert times(answer["runs"]) == expected
    assert [r["status"] for r in answer["runs"]] == ["queued", "queued", "queued", "held"]
    assert answer["backfill_id"] is None and answer["dry_run"] is True and answer["count"] == 4
    assert all(r["run_id"] is None for r in answer["runs"]) and answer["skipped"] == []
    assert runs_of(client, owner, sid) == []
    before = backfill(client, owner, sid, **(body | {"end": "2026-03-30T08:59:59"}))
    assert times(before["runs"]) == expected[:3]  # `end` in Paris as well


def test_a_backfill_of_an_interval_schedule_queues_tagged_runs_of_its_fire_times(
    app: FastAPI, client: TestClient, owner: Caller, flow: str
) -> None:
    sid = create(
        client,
        owner,
        flow,
        mode="interval",
        cron_expression=None,
        interval_seconds=3600,
        start_at="2026-11-02T00:00:00Z",
        parameters={"region": "eu"},
    )
    answer = backfill(client, owner, sid, **WINDOW)
    assert answer["count"] == 4 and times(answer["runs"]) == HOURS
    assert answer["backfill_id"].startswith("bfill_")
    for item in answer["runs"]:
        run = client.get(f"/v1/runs/{item['run_id']}", headers=owner.headers).json()
        assert run["status"] == "queued" and item["status"] == "queued"
        assert run["tags"] == ["backfill", f"backfill:{answer['backfill_id']}"]
        assert run["trigger"] == "schedule" and run["schedule_id"] == sid
        assert run["scheduled_for"] == item["scheduled_for"] and run["parameters"] == {"region": "eu"}
    with app.state.db.transaction(write=False) as session:  # the scheduler never fires them again
        schedule = repo.get_schedule(session, owner.org_id, sid)
        assert schedule is not None
        fires = session.execute(select(ScheduleFire).where(ScheduleFire.schedule_id == schedule.id)).scalars()
        assert sorted(f.scheduled_for for f in fires if f.outcome == "backfill") == [at(t) for t in HOURS]
    logs = client.get("/v1/audit-logs", headers=owner.headers, params={"resource_type": "schedule"}).json()
    assert any(
        item["changes"].get("backfill_id") == [None, answer["backfill_id"]] for item in logs["items"]
    ), logs


def test_reprocess_none_failed_and_all_against_the_runs_there_are(
    client: TestClient, settings: Settings, owner: Caller, pooled_flow: str, pool: str
) -> None:
    sid = create(client, owner, pooled_flow)
    first = backfill(client, owner, sid, **WINDOW)
    run_ids = [r["run_id"] for r in first["runs"]]
    assert client.post(f"/v1/runs/{run_ids[0]}/cancel", headers=owner.headers).status_code == 200
    claimed = {r["run_id"] for r in claim_runs(client, worker_headers(settings), pool)}
    assert claimed == set(run_ids[1:])
    finish(client, settings, run_ids[1], "failed")
    finish(client, settings, run_ids[2], "completed")  # run_ids[3] stays running

    none = backfill(client, owner, sid, **WINDOW, dry_run=True)
    assert none["count"] == 0 and [s["reason"] for s in none["skipped"]] == ["has_run"] * 4
    failed = backfill(client, owner, sid, **WINDOW, dry_run=True, reprocess="failed")
    assert times(failed["runs"]) == HOURS[:2]
    assert failed["skipped"] == [
        {"scheduled_for": HOURS[2], "reason": "latest_run_completed"},
        {"scheduled_for": HOURS[3], "reason": "latest_run_running"},
    ]
    assert times(backfill(client, owner, sid, **WINDOW, dry_run=True, reprocess="all")["runs"]) == HOURS

    again = backfill(client, owner, sid, **WINDOW, reprocess="failed")
    assert times(again["runs"]) == HOURS[:2] and len(runs_of(client, owner, sid)) == 6
    # The latest run of the first two is queued now: `failed` leaves them alone.
    later = backfill(client, owner, sid, **WINDOW, dry_run=True, reprocess="failed")
    assert [s["reason"] for s in later["skipped"]] == ["latest_run_queued"] * 2 + [
        "latest_run_completed",
        "latest_run_running",
    ]


def test_newest_first_orders_the_fire_times_and_queues_the_newest(
    client: TestClient, owner: Caller, flow: str
) -> None:
    sid = create(client, owner, flow)
    dry = backfill(client, owner, sid, **WINDOW, order="newest_first", dry_run=True)
    assert times(dry["runs"]) == HOURS[::-1]
    made = backfill(client, owner, sid, **WINDOW, order="newest_first", max_active=1)
    assert times(made["runs"]) == HOURS[::-1]
    assert [r["status"] for r in made["runs"]] == ["queued", "held", "held", "held"]
    assert [r["scheduled_for"] for r in runs_of(client, owner, sid)] == [HOURS[3]]


def test_max_active_is_honoured_as_the_scheduler_releases_held_fire_times(  # noqa: PLR0917 - fixtures
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, pooled_flow: str, pool: str
) -> None:
    sid = create(client, owner, pooled_flow)
    window = {"start": "2026-11-02T01:00:00Z", "end": "2026-11-02T05:00:00Z"}
    made = backfill(client, owner, sid, **window, max_active=2)
    hours = times(made["runs"])
    assert len(hours) == 5 and [r["status"] for r in made["runs"]] == ["queued"] * 2 + ["held"] * 3
    dry = backfill(client, owner, sid, **window, dry_run=True)
    assert [s["reason"] for s in dry["skipped"]] == ["has_run"] * 2 + ["held_by_backfill"] * 3

    def ticked() -> list[str]:
        """Tick; the fire times that have a run, oldest first."""
        tick(app.state.db, settings=settings, now=datetime.now().astimezone())
        return sorted(r["scheduled_for"] for r in runs_of(client, owner, sid))

    assert ticked() == hours[:2]  # both slots taken
    first, second = (r["run_id"] for r in made["runs"][:2])
    assert {r["run_id"] for r in claim_runs(client, worker_headers(settings), pool)} == {first, second}
    assert ticked() == hours[:2]  # running still takes the slots
    finish(client, settings, first, "completed")
    assert ticked() == hours[:3] and ticked() == hours[:3]  # one slot freed: one fire time, once
    finish(client, settings, second, "failed")
    assert ticked() == hours[:4]
    third = next(r["run_id"] for r in runs_of(client, owner, sid) if r["scheduled_for"] == hours[2])
    assert client.post(f"/v1/runs/{third}/cancel", headers=owner.headers).status_code == 200
    assert ticked() == hours
    assert ticked() == hours
    released = [r for r in runs_of(client, owner, sid) if r["scheduled_for"] in hours[2:]]
    assert all(r["tags"] == ["backfill", f"backfill:{made['backfill_id']}"] for r in released)
    assert status_of(client, owner, third) == "cancelled"


def test_refusals_name_the_field(app: FastAPI, client: TestClient, owner: Caller, flow: str) -> None:
    sid = create(client, owner, flow, cron_expression="* * * * *")
    url = f"/v1/schedules/{sid}/backfill"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"start": "2026-11-02T02:00:00Z", "end": "2026-11-02T01:00:00Z"}, "end"),
        ({"start": "2026-11-02T02:00:00Z", "end": "2099-01-01T00:00:00Z"}, "end"),  # the future
        ({"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"}, "end"),  # 1,440 fire times
        (WINDOW | {"max_active": 0}, "max_active"),
        (WINDOW | {"max_active": 101}, "max_active"),
        (WINDOW | {"reprocess": "some"}, "reprocess"),
        (WINDOW | {"order": "random"}, "order"),
        ({"end": WINDOW["end"]}, "start"),
        (WINDOW | {"extra": 1}, "extra"),
    ]
    for body, field in cases:
        response = client.post(url, headers=owner.headers, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"] and field in response.json()["details"], (body, response.text)
    limit = {"start": "2026-11-01T00:00:00Z", "end": "2026-11-01T16:39:00Z", "dry_run": True}
    assert backfill(client, owner, sid, **limit)["count"] == 1000  # exactly the cap is fine

    other = new_org(app, client)
    assert client.post(url, headers=other.headers, json=WINDOW).status_code == 404
    viewer = add_member(app, client, owner, "viewer")
    assert client.post(url, headers=viewer.headers, json=WINDOW | {"dry_run": True}).status_code == 403
    assert runs_of(client, owner, sid) == []
