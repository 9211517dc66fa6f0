"""Firing due schedules: one batch, one transaction (docs/schedules.md, docs/adr/0008).

A batch locks up to `BATCH_SIZE` enabled schedules whose `next_run_at` has come (`SKIP LOCKED` on
PostgreSQL, the writer lock on SQLite), decides for each which of its due fire times run and which
are skipped (the catch-up policy), records every decided time as a `schedule_fire` row with
`INSERT ... ON CONFLICT (schedule_id, scheduled_for) DO NOTHING`, queues a run for each `queued` row
it inserted, and moves `next_run_at` past now. All of it commits together or not at all: a
scheduler killed in the middle leaves the schedules due, and the next batch (of any scheduler)
does the work once.

Catch-up: a due time later than `now - grace` (one tick) is on time; earlier ones were missed.
- `all`: every missed time runs, oldest first, at most `CATCHUP_ALL_LIMIT`; the rest are skipped.
- `skip`: only the latest due time runs; the others are skipped.
- `none`: no missed time runs; on-time ones do.
Skipped times are recorded (`outcome: skipped`), at most `MAX_RECORDED_SKIPS` per catch-up. A run
the runs domain refuses (the flow's version or deployment is gone, a quota) is recorded `refused`
with the error, and the schedule moves on: a fire time is never retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.db.base import new_id, utcnow
from dagy.server.db.models import Schedule
from dagy.server.domains.runs import trigger as runs
from dagy.server.domains.runs.trigger import SCHEDULE, RunOrigin, RunRequest
from dagy.server.domains.schedules import repository as repo
from dagy.server.domains.schedules.service import SCHEDULED_TAG, run_request
from dagy.server.domains.schedules.timing import fire_times_between, last_fire_at_or_before, next_fire_after
from dagy.server.errors import DagyError
from dagy.server.identity import SYSTEM_ACTOR
from dagy.server.settings import Settings

log = logging.getLogger("dagy.server.scheduler")

BATCH_SIZE = 500
CATCHUP_ALL_LIMIT = 100
MAX_RECORDED_SKIPS = 1000
_LOOKED_AT = CATCHUP_ALL_LIMIT + MAX_RECORDED_SKIPS

QUEUED = "queued"
SKIPPED = "skipped"
REFUSED = "refused"


@dataclass(frozen=True)
class FirePlan:
    """What one schedule does in a batch: the fire times that run, those skipped, what comes next."""

    run: list[datetime]
    skipped: list[datetime]
    next_run_at: datetime | None
    problem: dict[str, Any] | None = None  # why the schedule cannot be computed any more


@dataclass
class BatchResult:
    schedules: int = 0
    queued: int = 0
    skipped: int = 0
    refused: int = 0


def plan_fires(schedule: Schedule, *, now: datetime, grace: timedelta) -> FirePlan:
    """The catch-up policy applied to the schedule's due times (`next_run_at` .. `now`)."""
    due, following = _due_times(schedule, now)
    if following is not None and following <= now:  # a long downtime: look at its end only
        recent = fire_times_between(schedule, max(due[-1], now - grace), now, limit=_LOOKED_AT)
        latest = last_fire_at_or_before(schedule, now, after=due[-1])
        due += sorted({*recent, *([latest] if latest else [])})
        following = next_fire_after(schedule, now)
    on_time = [t for t in due if t >= now - grace]
    missed = [t for t in due if t < now - grace]
    if schedule.catchup_policy == "all":
        run, skipped = missed[:CATCHUP_ALL_LIMIT] + on_time, missed[CATCHUP_ALL_LIMIT:]
    elif schedule.catchup_policy == "none":
        run, skipped = on_time, missed
    else:
        run, skipped = due[-1:], due[:-1]
    return FirePlan(run=run, skipped=skipped[:MAX_RECORDED_SKIPS], next_run_at=following)


def _plan(schedule: Schedule, *, now: datetime, grace: timedelta) -> FirePlan:
    """`plan_fires`, or, for a schedule whose times cannot be computed any more (its time zone
    left the host's tz database), nothing due and no next time: one schedule must not stop the
    batch it is in, tick after tick."""
    try:
        return plan_fires(schedule, now=now, grace=grace)
    except (DagyError, ValueError, KeyError, OverflowError) as exc:
        log.error("schedule %s (%s) stopped: %s", schedule.schedule_id, schedule.id, exc)
        problem = {"error": "unschedulable", "message": str(exc)}
        return FirePlan(run=[], skipped=[], next_run_at=None, problem=problem)


def _due_times(schedule: Schedule, now: datetime) -> tuple[list[datetime], datetime | None]:
    """Fire times from `next_run_at` up to `now`, at most `_LOOKED_AT`, and the first time after
    them: the next fire time, unless the limit stopped the walk before `now`."""
    due: list[datetime] = []
    current = schedule.next_run_at
    while current is not None and current <= now and len(due) < _LOOKED_AT:
        due.append(current)
        current = next_fire_after(schedule, current)
    return due, current


def any_due(session: Session, *, now: datetime) -> bool:
    """Whether any schedule is due at `now` (a read: idle ticks take no write lock)."""
    return repo.any_due(session, now=now)


def fire_due_batch(
    session: Session, *, now: datetime, grace: timedelta, settings: Settings, limit: int = BATCH_SIZE
) -> BatchResult:
    """Fire one batch of due schedules in the caller's transaction; never commits."""
    due = repo.lock_due(session, now=now, limit=limit)
    result = BatchResult(schedules=len(due))
    plans = [(schedule, deployment, _plan(schedule, now=now, grace=grace)) for schedule, deployment in due]
    rows = [_fire_row(schedule, t, QUEUED) for schedule, _, plan in plans for t in plan.run]
    skipped_rows = [
        _fire_row(schedule, t, SKIPPED, {"catchup_policy": schedule.catchup_policy})
        for schedule, _, plan in plans
        for t in plan.skipped
    ]
    stopped = [
        _fire_row(schedule, schedule.next_run_at, REFUSED, plan.problem)
        for schedule, _, plan in plans
        if plan.problem is not None and schedule.next_run_at is not None
    ]
    result.refused += len(stopped)
    inserted = repo.insert_fires(session, rows + skipped_rows + stopped)
    result.skipped = sum(1 for row in skipped_rows if row["id"] in inserted)
    fresh = {(row["schedule_id"], row["scheduled_for"]): row["id"] for row in rows if row["id"] in inserted}
    fires = [
        (schedule, deployment, scheduled_for, fresh[(schedule.id, scheduled_for)])
        for schedule, deployment, plan in plans
        for scheduled_for in plan.run
        if (schedule.id, scheduled_for) in fresh
    ]
    requests = _run_requests(session, fires)
    answers = runs.trigger_scheduled_runs(
        session, [r for r in requests if isinstance(r, RunRequest)], settings=settings
    )
    answered = iter(answers)
    outcomes: list[dict[str, Any]] = []
    last_runs: dict[str, tuple[datetime, str]] = {}
    for (schedule, _, scheduled_for, fire_id), request in zip(fires, requests, strict=True):
        answer = next(answered) if isinstance(request, RunRequest) else request
        if isinstance(answer, DagyError):
            result.refused += 1
            detail = {"error": answer.code, "message": answer.message, "details": answer.details}
            outcomes.append({"id": fire_id, "outcome": REFUSED, "detail": detail})
        else:
            result.queued += 1
            last_runs[schedule.id] = (scheduled_for, answer.run_id)
            outcomes.append({"id": fire_id, "run_id": answer.run_id})
    repo.update_fires(session, [o for o in outcomes if "run_id" in o])
    repo.update_fires(session, [o for o in outcomes if "run_id" not in o])
    repo.advance(
        session, [_advanced(schedule, plan, last_runs.get(schedule.id)) for schedule, _, plan in plans]
    )
    return result


def _run_requests(
    session: Session, fires: list[tuple[Schedule, str | None, datetime, str]]
) -> list[RunRequest | DagyError]:
    """The run each fire time asks for, or why it cannot ask for one. A flow's deployment in an
    environment is looked up once per batch."""
    in_environment: dict[tuple[str, str, str], str | None] = {}
    requests: list[RunRequest | DagyError] = []
    for schedule, deployment_name, scheduled_for, _ in fires:
        deployment = deployment_name
        if deployment is None and schedule.environment is not None:
            key = (schedule.org_id, schedule.flow_id, schedule.environment)
            if key not in in_environment:
                in_environment[key] = repo.deployment_in_environment(session, *key)
            deployment = in_environment[key]
        origin = RunOrigin(
            actor=SYSTEM_ACTOR,
            org_id=schedule.org_id,
            trigger=SCHEDULE,
            schedule_id=schedule.id,
            scheduled_for=scheduled_for,
        )
        try:
            data = run_request(
                session,
                schedule,
                deployment_name=deployment,
                parameters=dict(schedule.parameters),
                tag=SCHEDULED_TAG,
            )
        except DagyError as exc:
            requests.append(exc)
            continue
        requests.append(RunRequest(origin=origin, data=data))
    return requests


def _advanced(schedule: Schedule, plan: FirePlan, last_run: tuple[datetime, str] | None) -> dict[str, Any]:
    """The schedule's row after the batch: past now, with its latest run; a one-time schedule that
    fired (or was skipped) is done: disabled. Written with the batch's other schedules at once."""
    last_run_at, last_run_id = last_run or (schedule.last_run_at, schedule.last_run_id)
    return {
        "id": schedule.id,
        "next_run_at": plan.next_run_at,
        "enabled": schedule.enabled and not (plan.next_run_at is None and schedule.mode == "one_time"),
        "last_run_at": last_run_at,
        "last_run_id": last_run_id,
    }


def _fire_row(
    schedule: Schedule, scheduled_for: datetime, outcome: str, detail: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": new_id("fire"),
        "org_id": schedule.org_id,
        "schedule_id": schedule.id,
        "scheduled_for": scheduled_for,
        "run_id": None,
        "outcome": outcome,
        "detail": detail,
        "created_at": utcnow(),
    }
