"""Backfills: run a schedule's past fire times of a window (docs/schedules.md, "Backfill").

`POST /schedules/{id}/backfill` computes the window's fire times as the scheduler does
(`timing.py`), leaves out those that already have a run (as `reprocess` says), and records the rest
as one `schedule_backfill` with a row per fire time, in the order asked. The first `max_active`
get their runs at once; the others are `held`. The scheduler (`services/scheduler.py`) releases
held fire times as earlier runs finish: each tick, per backfill, as many as it has free slots
(`max_active` minus its runs queued or running). Everything is in the database, so any number of
schedulers may release: each locks the backfills it works on (`SKIP LOCKED`), and a released fire
time is no longer `held`.

Every backfilled fire time also gets a `schedule_fire` row (`outcome: backfill`, `ON CONFLICT DO
NOTHING`), so a scheduler catching up on the same times later never fires them a second time.
Runs of a backfill carry the schedule, their fire time (`scheduled_for`), `trigger: schedule` and
the tags `backfill` and `backfill:<id>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session

from dagy.server.db.base import new_id, utcnow
from dagy.server.db.models import Schedule, ScheduleBackfill, ScheduleBackfillRun
from dagy.server.domains.audit_logs.service import Action
from dagy.server.domains.runs import trigger as runs
from dagy.server.domains.runs.schemas import RunTriggered
from dagy.server.domains.runs.trigger import SCHEDULE, RunOrigin, RunRequest
from dagy.server.domains.schedules import repository as repo
from dagy.server.domains.schedules.audit import audit
from dagy.server.domains.schedules.schemas import (
    MAX_BACKFILL_FIRE_TIMES,
    BackfillRun,
    BackfillSkip,
    ScheduleBackfillCreate,
    ScheduleBackfillRead,
)
from dagy.server.domains.schedules.service import run_request
from dagy.server.domains.schedules.timing import fire_times_between, local_datetime
from dagy.server.errors import DagyError, InvalidInput, NotFound
from dagy.server.identity import SYSTEM_ACTOR, Actor
from dagy.server.orchestration import ACTIVE_RUN_STATES, RunState
from dagy.server.settings import Settings

BACKFILL_TAG = "backfill"
HELD: Literal["held"] = "held"
QUEUED: Literal["queued"] = "queued"
REFUSED = "refused"
FIRE_OUTCOME = "backfill"
# Backfills one release transaction looks at.
RELEASE_BATCH = 100
# `reprocess: failed` runs again the fire times whose latest run ended in one of these.
_FAILED_STATES = frozenset({RunState.FAILED, RunState.CANCELLED})
_EPSILON = timedelta(microseconds=1)


@dataclass(frozen=True)
class BackfillPlan:
    """The fire times to run, in the backfill's order, and those left out with why."""

    run: list[datetime]
    skipped: list[tuple[datetime, str]]


def backfill_schedule(
    session: Session, *, actor: Actor, schedule_id: str, data: ScheduleBackfillCreate, settings: Settings
) -> ScheduleBackfillRead:
    """Plan the window's fire times; unless `dry_run`, record the backfill, queue its first
    `max_active` runs and hold the rest. A run the runs domain refuses (a gone version or
    deployment, the quota) refuses the whole request: nothing is written."""
    schedule = repo.get_schedule(session, actor.org_id, schedule_id)
    if schedule is None:
        raise NotFound(f"Schedule {schedule_id} not found.")
    start, end = _window(schedule, data, now=utcnow())
    plan = plan_backfill(session, schedule, start=start, end=end, reprocess=data.reprocess, order=data.order)
    skipped = [BackfillSkip(scheduled_for=t, reason=reason) for t, reason in plan.skipped]
    if data.dry_run:
        planned = [
            BackfillRun(scheduled_for=t, run_id=None, status=QUEUED if i < data.max_active else HELD)
            for i, t in enumerate(plan.run)
        ]
        return _answer(None, schedule, data, planned, skipped)
    backfill = ScheduleBackfill(
        id=new_id("bfill"),
        org_id=schedule.org_id,
        schedule_id=schedule.id,
        start_at=start,
        end_at=end,
        reprocess=data.reprocess,
        run_order=data.order,
        max_active=data.max_active,
        created_at=utcnow(),
    )
    now_times, held_times = plan.run[: data.max_active], plan.run[data.max_active :]
    answers = queue_backfill_runs(session, schedule, backfill.id, now_times, actor=actor, settings=settings)
    for answer in answers:
        if isinstance(answer, DagyError):
            raise answer
    made = [a for a in answers if isinstance(a, RunTriggered)]
    rows = [
        _row(backfill.id, i, t, QUEUED, run.run_id)
        for i, (t, run) in enumerate(zip(now_times, made, strict=True))
    ]
    rows += [_row(backfill.id, len(now_times) + i, t, HELD, None) for i, t in enumerate(held_times)]
    repo.add_backfill(session, backfill, rows)
    repo.insert_fires(session, [_fire_row(schedule, backfill.id, t) for t in plan.run])
    changes = {"backfill_id": [None, backfill.id], "count": [None, len(plan.run)]}
    audit(session, actor, schedule, Action.EXECUTE, changes)
    result = [
        BackfillRun(scheduled_for=r["scheduled_for"], run_id=r["run_id"], status=r["status"]) for r in rows
    ]
    return _answer(backfill.id, schedule, data, result, skipped)


def plan_backfill(
    session: Session, schedule: Schedule, *, start: datetime, end: datetime, reprocess: str, order: str
) -> BackfillPlan:
    """The schedule's fire times in `[start, end]` (400 naming `end` past
    `MAX_BACKFILL_FIRE_TIMES`), less those `reprocess` leaves out: `none` every one that has a run,
    `failed` those whose latest run did not fail or get cancelled, and (but with `all`) those another
    backfill holds."""
    times = fire_times_between(schedule, start - _EPSILON, end, limit=MAX_BACKFILL_FIRE_TIMES + 1)
    if len(times) > MAX_BACKFILL_FIRE_TIMES:
        raise InvalidInput(
            f"The window holds more than {MAX_BACKFILL_FIRE_TIMES} fire times.",
            details={"end": f"end the window earlier: at most {MAX_BACKFILL_FIRE_TIMES} fire times"},
        )
    latest = dict(repo.runs_of_fire_times(session, schedule.org_id, schedule.id, start, end))
    held = repo.held_fire_times(session, schedule.id, start, end) if reprocess != "all" else set()
    run: list[datetime] = []
    skipped: list[tuple[datetime, str]] = []
    for t in times:
        reason = _skip_reason(latest.get(t), t in held, reprocess)
        if reason is None:
            run.append(t)
        else:
            skipped.append((t, reason))
    if order == "newest_first":
        run.reverse()
    return BackfillPlan(run=run, skipped=skipped)


def _skip_reason(latest_status: str | None, held: bool, reprocess: str) -> str | None:
    if reprocess == "all":
        return None
    if held:
        return "held_by_backfill"
    if latest_status is None:
        return None
    if reprocess == "none":
        return "has_run"
    return None if latest_status in _FAILED_STATES else f"latest_run_{latest_status}"


def queue_backfill_runs(
    session: Session,
    schedule: Schedule,
    backfill_id: str,
    times: list[datetime],
    *,
    actor: Actor,
    settings: Settings,
    deployment_name: str | None = None,
) -> list[RunTriggered | DagyError]:
    """Queue a run of each fire time (one answer per time, in order: the run or its refusal), with
    the schedule's parameters and target, as a batch of the runs domain."""
    if not times:
        return []
    if deployment_name is None and schedule.deployment_id is not None:
        deployment_name = repo.deployment_names(session, schedule.org_id, [schedule.deployment_id]).get(
            schedule.deployment_id
        )
    try:
        data = run_request(
            session,
            schedule,
            deployment_name=deployment_name,
            parameters=dict(schedule.parameters or {}),
            tag=BACKFILL_TAG,
        )
    except DagyError as exc:
        return [exc for _ in times]
    data = data.model_copy(update={"tags": [BACKFILL_TAG, f"{BACKFILL_TAG}:{backfill_id}"]})
    requests = [
        RunRequest(
            origin=RunOrigin(
                actor=actor,
                org_id=schedule.org_id,
                trigger=SCHEDULE,
                schedule_id=schedule.id,
                scheduled_for=t,
            ),
            data=data,
        )
        for t in times
    ]
    return runs.trigger_scheduled_runs(session, requests, settings=settings)


def any_held(session: Session) -> bool:
    """Whether some backfill holds fire times (a read: idle ticks take no write lock)."""
    return repo.any_held(session)


@dataclass(frozen=True)
class Released:
    backfills: int  # looked at
    last_id: str  # the last one's id: the next batch starts after it
    queued: int


def release_held(
    session: Session, *, settings: Settings, after: str = "", limit: int = RELEASE_BATCH
) -> Released:
    """Queue held fire times of up to `limit` backfills after `after` (locked), as many per backfill
    as it has free slots, in its order. A refused run (its version or deployment gone, the quota)
    is recorded `refused` and the next one goes on. Never commits."""
    backfills = repo.lock_holding_backfills(session, after=after, limit=limit)
    active = repo.active_runs(session, [b.id for b in backfills], [str(s) for s in ACTIVE_RUN_STATES])
    schedules = repo.schedules_with_deployments(session, {b.schedule_id for b in backfills})
    queued = 0
    for backfill in backfills:
        free = backfill.max_active - active.get(backfill.id, 0)
        if free <= 0 or backfill.schedule_id not in schedules:
            continue
        schedule, deployment_name = schedules[backfill.schedule_id]
        items = repo.next_held(session, backfill.id, limit=free)
        answers = queue_backfill_runs(
            session,
            schedule,
            backfill.id,
            [item.scheduled_for for item in items],
            actor=SYSTEM_ACTOR,
            settings=settings,
            deployment_name=deployment_name,
        )
        for item, answer in zip(items, answers, strict=True):
            queued += _settle(item, answer)
    session.flush()
    return Released(backfills=len(backfills), last_id=backfills[-1].id if backfills else after, queued=queued)


def _settle(item: ScheduleBackfillRun, answer: RunTriggered | DagyError) -> int:
    if isinstance(answer, DagyError):
        item.status = REFUSED
        item.detail = {"error": answer.code, "message": answer.message, "details": answer.details}
        return 0
    item.status, item.run_id = QUEUED, answer.run_id
    return 1


def _window(schedule: Schedule, data: ScheduleBackfillCreate, *, now: datetime) -> tuple[datetime, datetime]:
    """`start` and `end` in UTC (read in the schedule's zone when they have no offset)."""
    start = local_datetime(data.start, schedule.timezone)
    end = local_datetime(data.end, schedule.timezone)
    if end <= start:
        raise InvalidInput("The window ends before it starts.", details={"end": "must be after start"})
    if end > now:
        raise InvalidInput(
            "A backfill runs past fire times only.",
            details={"end": "must not be in the future (the scheduler fires those)"},
        )
    return start, end


def _row(backfill_id: str, position: int, t: datetime, status: str, run_id: str | None) -> dict[str, Any]:
    return {
        "id": new_id("bfrun"),
        "backfill_id": backfill_id,
        "position": position,
        "scheduled_for": t,
        "status": status,
        "run_id": run_id,
        "detail": None,
    }


def _fire_row(schedule: Schedule, backfill_id: str, t: datetime) -> dict[str, Any]:
    return {
        "id": new_id("fire"),
        "org_id": schedule.org_id,
        "schedule_id": schedule.id,
        "scheduled_for": t,
        "run_id": None,
        "outcome": FIRE_OUTCOME,
        "detail": {"backfill_id": backfill_id},
        "created_at": utcnow(),
    }


def _answer(
    backfill_id: str | None,
    schedule: Schedule,
    data: ScheduleBackfillCreate,
    planned: list[BackfillRun],
    skipped: list[BackfillSkip],
) -> ScheduleBackfillRead:
    return ScheduleBackfillRead(
        backfill_id=backfill_id,
        schedule_id=schedule.schedule_id,
        dry_run=data.dry_run,
        count=len(planned),
        runs=planned,
        skipped=skipped,
    )
