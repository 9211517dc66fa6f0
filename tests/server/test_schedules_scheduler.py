"""The scheduler with an injected clock: fire times, catch-up policies, one-time, windows, disabled
schedules, refusals, a tick that dies half way, and the background part of `dagy server`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dagy.server.db.models import ScheduleFire
from dagy.server.domains.schedules import repository as repo
from dagy.server.domains.schedules.firing import CATCHUP_ALL_LIMIT, fire_due_batch
from dagy.server.services.scheduler import tick
from dagy.server.settings import Settings
from tests.factories import Caller, new_org, unique
from tests.flow_factories import python_node, register_flow, spec, wait_for_run

OK = "def main(inputs, params):\n    return params\n"
HOUR = timedelta(hours=1)


# This module's own database: its simulated clock runs months ahead of the real one, which would
# make every schedule other modules left behind due, and queue their runs.
pytestmark = pytest.mark.settings("own_database_settings")


@pytest.fixture(autouse=True)
def leave_nothing_due(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test with an `owner`: nothing of the owner's due or queued for the next test on this
    module's database (a test without one, e.g. on `running`, is left alone)."""
    if "owner" not in request.fixturenames:
        yield
        return
    client, owner = request.getfixturevalue("client"), request.getfixturevalue("owner")
    yield
    quiet(client, owner)


def quiet(client: TestClient, caller: Caller) -> None:
    """Leave nothing due and nothing queued for the next test on this database."""
    for item in client.get("/v1/schedules", headers=caller.headers, params={"limit": 100}).json()["items"]:
        client.patch(f"/v1/schedules/{item['schedule_id']}", headers=caller.headers, json={"enabled": False})
    while True:
        queued = client.get(
            "/v1/runs", headers=caller.headers, params={"status": "queued", "limit": 100}
        ).json()
        for run in queued["items"]:
            client.post(f"/v1/runs/{run['run_id']}/cancel", headers=caller.headers)
        if not queued["items"]:
            return


def create(client: TestClient, caller: Caller, flow: str, **body: Any) -> dict[str, Any]:
    body = {
        "schedule_id": unique("sched"),
        "flow_name": flow,
        "mode": "cron",
        "cron_expression": "0 * * * *",
    } | body
    response = client.post("/v1/schedules", headers=caller.headers, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def runs_of(client: TestClient, caller: Caller, schedule_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        params: dict[str, Any] = {"limit": 100} | ({"next_token": token} if token else {})
        page = client.get(f"/v1/schedules/{schedule_id}/runs", headers=caller.headers, params=params).json()
        items += page["items"]
        token = page["next_token"]
        if not token:
            return items


def fired_times(client: TestClient, caller: Caller, schedule_id: str) -> list[datetime]:
    return sorted(at(r["scheduled_for"]) for r in runs_of(client, caller, schedule_id) if r["scheduled_for"])


def fires(
    app: FastAPI, client: TestClient, caller: Caller, schedule_id: str
) -> dict[str, list[ScheduleFire]]:
    with app.state.db.transaction(write=False) as session:
        schedule = repo.get_schedule(session, caller.org_id, schedule_id)
        assert schedule is not None
        rows = session.execute(select(ScheduleFire).where(ScheduleFire.schedule_id == schedule.id)).scalars()
        found: dict[str, list[ScheduleFire]] = {}
        for row in rows:
            found.setdefault(row.outcome, []).append(row)
        return found


def schedule_of(client: TestClient, caller: Caller, schedule_id: str) -> dict[str, Any]:
    result: dict[str, Any] = client.get(f"/v1/schedules/{schedule_id}", headers=caller.headers).json()
    return result


def test_a_due_schedule_fires_once_with_its_parameters_and_tag(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, flow: str
) -> None:
    made = create(client, owner, flow, parameters={"region": "eu"})
    first = at(made["next_run_at"])
    tick(app.state.db, settings=settings, now=first - timedelta(seconds=1))
    assert runs_of(client, owner, made["schedule_id"]) == []
    tick(app.state.db, settings=settings, now=first + timedelta(milliseconds=300))
    tick(app.state.db, settings=settings, now=first + timedelta(milliseconds=600))  # nothing new
    runs = runs_of(client, owner, made["schedule_id"])
    assert len(runs) == 1 and at(runs[0]["scheduled_for"]) == first and runs[0]["tags"] == ["scheduled"]
    run = client.get(f"/v1/runs/{runs[0]['run_id']}", headers=owner.headers).json()
    assert run["parameters"] == {"region": "eu"} and run["status"] == "queued"
    after = schedule_of(client, owner, made["schedule_id"])
    assert at(after["next_run_at"]) == first + HOUR
    assert at(after["last_run_at"]) == first and after["last_run_id"] == run["run_id"]
    assert [row.run_id for row in fires(app, client, owner, made["schedule_id"])["queued"]] == [run["run_id"]]


@pytest.mark.parametrize(
    ("policy", "late", "expected_runs", "expected_skips"),
    [
        ("all", timedelta(milliseconds=500), [0, 1, 2, 3], 0),
        ("skip", timedelta(milliseconds=500), [3], 3),
        ("none", timedelta(milliseconds=500), [3], 3),  # the last one is on time
        ("all", timedelta(seconds=30), [0, 1, 2, 3], 0),
        ("skip", timedelta(seconds=30), [3], 3),
        ("none", timedelta(seconds=30), [], 4),  # all four were missed
    ],
)
def test_catch_up_after_downtime(  # noqa: PLR0917 - fixtures and parameters
    app: FastAPI,
    client: TestClient,
    settings: Settings,
    owner: Caller,
    flow: str,
    policy: str,
    late: timedelta,
    expected_runs: list[int],
    expected_skips: int,
) -> None:
    made = create(client, owner, flow, catchup_policy=policy)
    first = at(made["next_run_at"])
    tick(app.state.db, settings=settings, now=first + 3 * HOUR + late)
    assert fired_times(client, owner, made["schedule_id"]) == [first + k * HOUR for k in expected_runs]
    assert len(fires(app, client, owner, made["schedule_id"]).get("skipped", [])) == expected_skips
    # Each catch-up run says which fire time it was, through GET /runs as through the schedule.
    query = {"schedule_id": made["schedule_id"], "trigger": "schedule"}
    listed = client.get("/v1/runs", headers=owner.headers, params=query).json()["items"]
    assert sorted(at(run["scheduled_for"]) for run in listed) == [first + k * HOUR for k in expected_runs]
    if listed:
        run = client.get(f"/v1/runs/{listed[0]['run_id']}", headers=owner.headers).json()
        assert (run["trigger"], run["schedule_id"]) == ("schedule", made["schedule_id"])
    assert at(schedule_of(client, owner, made["schedule_id"])["next_run_at"]) == first + 4 * HOUR


def test_catch_up_all_is_capped(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, flow: str
) -> None:
    made = create(client, owner, flow, catchup_policy="all", cron_expression="* * * * *")
    first = at(made["next_run_at"])
    tick(app.state.db, settings=settings, now=first + timedelta(minutes=150, seconds=30))
    times = fired_times(client, owner, made["schedule_id"])
    assert times == [first + timedelta(minutes=k) for k in range(CATCHUP_ALL_LIMIT)]
    assert len(fires(app, client, owner, made["schedule_id"])["skipped"]) == 151 - CATCHUP_ALL_LIMIT
    assert at(schedule_of(client, owner, made["schedule_id"])["next_run_at"]) == first + timedelta(
        minutes=151
    )


def test_skip_after_a_very_long_downtime_fires_the_latest_time(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, flow: str
) -> None:
    made = create(client, owner, flow, cron_expression="*/5 * * * *")
    first = at(made["next_run_at"])
    now = first + timedelta(days=30, minutes=2)
    tick(app.state.db, settings=settings, now=now)
    assert fired_times(client, owner, made["schedule_id"]) == [first + timedelta(days=30)]
    assert at(schedule_of(client, owner, made["schedule_id"])["next_run_at"]) == first + timedelta(
        days=30, minutes=5
    )


def test_disabled_schedules_never_fire_and_windows_end(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, flow: str
) -> None:
    disabled = create(client, owner, flow)
    first = at(disabled["next_run_at"])
    client.patch(f"/v1/schedules/{disabled['schedule_id']}", headers=owner.headers, json={"enabled": False})
    ending = create(
        client, owner, flow, catchup_policy="all", end_at=(first + 90 * timedelta(minutes=1)).isoformat()
    )
    tick(app.state.db, settings=settings, now=first + 5 * HOUR)
    assert runs_of(client, owner, disabled["schedule_id"]) == []
    assert fired_times(client, owner, ending["schedule_id"]) == [first, first + HOUR]
    after = schedule_of(client, owner, ending["schedule_id"])
    assert after["next_run_at"] is None and after["enabled"] is True


def test_start_at_in_the_future_delays_the_first_fire(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, flow: str
) -> None:
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=17, second=0, microsecond=0)
    made = create(
        client,
        owner,
        flow,
        mode="interval",
        cron_expression=None,
        interval_seconds=600,
        start_at=start.isoformat(),
    )
    assert at(made["next_run_at"]) == start
    tick(app.state.db, settings=settings, now=start - timedelta(minutes=1))
    assert runs_of(client, owner, made["schedule_id"]) == []
    tick(app.state.db, settings=settings, now=start + timedelta(minutes=20, milliseconds=100))
    assert fired_times(client, owner, made["schedule_id"]) == [start + timedelta(minutes=20)]


def test_one_time_fires_once_then_disables(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, flow: str
) -> None:
    when = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    made = create(client, owner, flow, mode="one_time", cron_expression=None, one_time_at=when.isoformat())
    tick(app.state.db, settings=settings, now=when + timedelta(milliseconds=200))
    tick(app.state.db, settings=settings, now=when + timedelta(days=1))
    assert fired_times(client, owner, made["schedule_id"]) == [when]
    after = schedule_of(client, owner, made["schedule_id"])
    assert after["enabled"] is False and after["next_run_at"] is None and at(after["last_run_at"]) == when


def test_a_refused_run_is_recorded_and_the_schedule_moves_on(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, flow: str
) -> None:
    env = unique("env")
    assert client.post("/v1/environments", headers=owner.headers, json={"env_name": env}).status_code == 201
    deployment = unique("dep")
    body = {"name": deployment, "flow_name": flow, "environment": env}
    assert client.post("/v1/deployments", headers=owner.headers, json=body).status_code == 201
    made = create(client, owner, flow, environment=env)
    first = at(made["next_run_at"])
    assert client.delete(f"/v1/deployments/{deployment}", headers=owner.headers).status_code == 200
    result = tick(app.state.db, settings=settings, now=first + timedelta(milliseconds=100))
    assert result.refused >= 1
    refused = fires(app, client, owner, made["schedule_id"])["refused"]
    assert len(refused) == 1 and refused[0].run_id is None
    assert refused[0].detail is not None and refused[0].detail["error"] == "not_found"
    assert refused[0].detail["details"] == {"environment": "no deployment of the flow there"}
    assert at(schedule_of(client, owner, made["schedule_id"])["next_run_at"]) == first + HOUR
    tick(app.state.db, settings=settings, now=first + timedelta(milliseconds=900))
    assert len(fires(app, client, owner, made["schedule_id"])["refused"]) == 1  # never retried


def test_one_batch_queues_refuses_and_audits_each_fire_on_its_own(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, flow: str
) -> None:
    """A batch creates its runs together: schedules sharing a flow and an environment's deployment
    each get their own run, slug and audit row; the one whose deployment is gone is refused alone."""
    envs = {name: unique(name) for name in ("kept", "gone")}
    deployments = {name: unique("dep") for name in envs}
    for name, env in envs.items():
        assert (
            client.post("/v1/environments", headers=owner.headers, json={"env_name": env}).status_code == 201
        )
        body = {"name": deployments[name], "flow_name": flow, "environment": env}
        assert client.post("/v1/deployments", headers=owner.headers, json=body).status_code == 201
    plain = [create(client, owner, flow, parameters={"n": i}) for i in range(3)]
    in_kept = [create(client, owner, flow, environment=envs["kept"]) for _ in range(2)]
    refused = create(client, owner, flow, environment=envs["gone"])
    assert client.delete(f"/v1/deployments/{deployments['gone']}", headers=owner.headers).status_code == 200
    first = at(refused["next_run_at"])
    result = tick(app.state.db, settings=settings, now=first + timedelta(milliseconds=100))
    assert (result.queued, result.refused) == (5, 1)
    runs = {s["schedule_id"]: runs_of(client, owner, s["schedule_id"]) for s in plain + in_kept}
    assert all(len(found) == 1 for found in runs.values())
    assert len({found[0]["run_slug"] for found in runs.values()}) == 5
    for made in plain:
        run = client.get(f"/v1/runs/{runs[made['schedule_id']][0]['run_id']}", headers=owner.headers).json()
        assert run["parameters"] == made["parameters"] and run["deployment_name"] is None
    for made in in_kept:
        run = client.get(f"/v1/runs/{runs[made['schedule_id']][0]['run_id']}", headers=owner.headers).json()
        assert run["deployment_name"] == deployments["kept"]
    assert runs_of(client, owner, refused["schedule_id"]) == []
    assert fires(app, client, owner, refused["schedule_id"])["refused"][0].detail["error"] == "not_found"
    audited = client.get(
        "/v1/audit-logs", headers=owner.headers, params={"resource_type": "run", "limit": 100}
    ).json()["items"]
    run_ids = {found[0]["run_id"] for found in runs.values()}
    rows = [row for row in audited if row["resource_id"] in run_ids]
    assert len(rows) == 5 and {row["action"] for row in rows} == {"execute"}
    assert all(row["changes"]["status"] == [None, "queued"] for row in rows)
    assert {row["resource_name"] for row in rows} == {found[0]["run_slug"] for found in runs.values()}
    schedules = [schedule_of(client, owner, s["schedule_id"]) for s in plain + in_kept]
    assert {s["last_run_id"] for s in schedules} == run_ids
    assert all(
        at(s["next_run_at"]) == first + HOUR
        for s in [*schedules, schedule_of(client, owner, refused["schedule_id"])]
    )


def test_a_tick_that_dies_half_way_leaves_nothing_and_the_next_fires_once(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, flow: str
) -> None:
    made = create(client, owner, flow)
    first = at(made["next_run_at"])
    now = first + timedelta(milliseconds=100)
    with pytest.raises(RuntimeError), app.state.db.transaction(write=True) as session:
        batch = fire_due_batch(session, now=now, grace=timedelta(seconds=1), settings=settings)
        assert batch.queued >= 1
        raise RuntimeError("killed before the commit")
    assert runs_of(client, owner, made["schedule_id"]) == []
    assert at(schedule_of(client, owner, made["schedule_id"])["next_run_at"]) == first
    tick(app.state.db, settings=settings, now=now)
    tick(app.state.db, settings=settings, now=now)
    assert fired_times(client, owner, made["schedule_id"]) == [first]


def test_a_fire_time_recorded_before_never_fires_again(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, flow: str
) -> None:
    """A PATCH computes next_run_at from now: it may land on a time already fired (here the clock
    the scheduler ran on is ahead of the real one). The unique fire time keeps it from running twice."""
    made = create(client, owner, flow)
    first = at(made["next_run_at"])
    tick(app.state.db, settings=settings, now=first + timedelta(milliseconds=100))
    patched = client.patch(
        f"/v1/schedules/{made['schedule_id']}", headers=owner.headers, json={"description": "x"}
    )
    assert at(patched.json()["next_run_at"]) == first
    tick(app.state.db, settings=settings, now=first + timedelta(milliseconds=200))
    assert fired_times(client, owner, made["schedule_id"]) == [first]
    assert at(schedule_of(client, owner, made["schedule_id"])["next_run_at"]) == first + HOUR


def test_dst_in_new_york_fires_each_day_once(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, flow: str
) -> None:
    """Ticking every simulated 10 minutes through the early hours of both 2027 changes: 02:30 daily
    fires at 03:00 EDT on the spring-forward day; 01:30 daily fires once on the fall-back day."""
    spring = create(client, owner, flow, timezone="America/New_York", cron_expression="30 2 * * *")
    fall = create(client, owner, flow, timezone="America/New_York", cron_expression="30 1 * * *")
    for first_day in (datetime(2027, 3, 14, tzinfo=UTC), datetime(2027, 11, 7, tzinfo=UTC)):
        for name in (spring["schedule_id"], fall["schedule_id"]):  # resume just before the change
            body = {"start_at": first_day.isoformat()}
            assert client.patch(f"/v1/schedules/{name}", headers=owner.headers, json=body).status_code == 200
        for day in (first_day, first_day + timedelta(days=1)):
            for step in range(4 * 6, 9 * 6):  # 04:00-09:00 UTC: 23:00-05:00 in New York
                tick(app.state.db, settings=settings, now=day + timedelta(minutes=10 * step + 1))
    assert fired_times(client, owner, spring["schedule_id"]) == [
        datetime(2027, 3, 14, 7, 0, tzinfo=UTC),  # 03:00 EDT: 02:30 did not exist
        datetime(2027, 3, 15, 6, 30, tzinfo=UTC),
        datetime(2027, 11, 7, 7, 30, tzinfo=UTC),
        datetime(2027, 11, 8, 7, 30, tzinfo=UTC),
    ]
    assert fired_times(client, owner, fall["schedule_id"]) == [
        datetime(2027, 3, 14, 6, 30, tzinfo=UTC),
        datetime(2027, 3, 15, 5, 30, tzinfo=UTC),
        datetime(2027, 11, 7, 5, 30, tzinfo=UTC),  # 01:30 EDT, and not again at 01:30 EST
        datetime(2027, 11, 8, 6, 30, tzinfo=UTC),
    ]


def test_the_server_fires_schedules_and_the_worker_runs_them(running: tuple[FastAPI, TestClient]) -> None:
    app, client = running
    owner = new_org(app, client)
    flow = register_flow(client, owner, spec(python_node("only", OK)))
    # Far enough ahead that the time has not passed when the request arrives on a busy host.
    when = datetime.now(UTC) + timedelta(seconds=3)
    made = create(client, owner, flow, mode="one_time", cron_expression=None, one_time_at=when.isoformat(),
                  parameters={"hello": "world"})  # fmt: skip
    for _ in range(300):
        runs = runs_of(client, owner, made["schedule_id"])
        if runs:
            break
        time.sleep(0.05)
    assert len(runs) == 1
    finished = wait_for_run(client, owner, runs[0]["run_id"])
    assert finished["status"] == "completed" and finished["output"] == {"hello": "world"}
    assert finished["tags"] == ["scheduled"]


def test_a_schedule_that_cannot_be_computed_stops_alone(
    app: FastAPI, client: TestClient, settings: Settings, owner: Caller, flow: str
) -> None:
    """A zone that left the host's tz database (written here behind the API's back) stops its
    schedule with a refused fire; the other schedules of the batch fire."""
    broken = create(client, owner, flow)
    healthy = create(client, owner, flow)
    first = at(broken["next_run_at"])
    with app.state.db.transaction(write=True) as session:
        row = repo.get_schedule(session, owner.org_id, broken["schedule_id"])
        assert row is not None
        row.timezone = "Gone/Zone"
    tick(app.state.db, settings=settings, now=first + timedelta(milliseconds=100))
    assert fired_times(client, owner, healthy["schedule_id"]) == [first]
    refused = fires(app, client, owner, broken["schedule_id"])["refused"]
    assert [r.detail["error"] for r in refused if r.detail] == ["unschedulable"]
    assert schedule_of(client, owner, broken["schedule_id"])["next_run_at"] is None
