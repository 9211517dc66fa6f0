"""Schedules: create, read, change, delete, trigger by hand, and the runs one started.

A schedule runs a flow (its latest version when it fires, or the version it names; or the flow's
deployment in an environment) by cron, by interval, once, or only when triggered. The scheduler
(`services/scheduler.py`, `firing.py`) fires it; this module keeps its fields consistent and its
`next_run_at` current. A deployment's schedule (`deployment_sync.py`) is changed through its
deployment; here it can be read, triggered, enabled or disabled, and given a time zone.

A schedule's parameters must fit the version it would run now (`_check_fits`), checked when they or
its target change; a fire time whose run they no longer fit (a newer version) is recorded refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, ListRow, PageRequest
from dagy.server.db.base import utcnow
from dagy.server.db.models import Flow, Schedule
from dagy.server.domains.audit_logs.service import Action, diff
from dagy.server.domains.environments import service as environments
from dagy.server.domains.flows import service as flows
from dagy.server.domains.runs import service as runs_service
from dagy.server.domains.runs import trigger as runs
from dagy.server.domains.runs.schemas import RunTrigger
from dagy.server.domains.runs.trigger import MAX_PARAMETERS_BYTES, SCHEDULE, RunOrigin
from dagy.server.domains.schedules import repository as repo
from dagy.server.domains.schedules.audit import audit, audit_state
from dagy.server.domains.schedules.deployment_sync import DEPLOYMENT_PREFIX
from dagy.server.domains.schedules.rules import MODE_FIELDS, settle
from dagy.server.domains.schedules.schemas import (
    MODES,
    ScheduleCreate,
    ScheduleRead,
    ScheduleTrigger,
    ScheduleTriggered,
    ScheduleUpdate,
)
from dagy.server.domains.schedules.timing import local_datetime
from dagy.server.errors import Conflict, InvalidInput, NotFound
from dagy.server.identity import Actor
from dagy.server.settings import Settings

SCHEDULED_TAG = "scheduled"  # runs the scheduler starts at a fire time
MANUAL_TAG = "manual"  # runs a member starts with POST /schedules/{id}/trigger
_NOT_NULL = ("enabled", "mode", "timezone", "catchup_policy", "parameters")
# A deployment's schedule takes these from its deployment (`schedule`, its flow and version).
_DEPLOYMENT_OWNED = (
    "mode",
    "cron_expression",
    "interval_seconds",
    "one_time_at",
    "flow_version",
    "environment",
)
_TIMES = ("one_time_at", "start_at", "end_at")


def create_schedule(session: Session, *, actor: Actor, data: ScheduleCreate) -> ScheduleRead:
    """A new schedule; 404 for an unknown flow, version or environment, 409 for a taken id."""
    org_id = actor.org_id
    if data.schedule_id.startswith(DEPLOYMENT_PREFIX):
        raise InvalidInput(
            "Schedule ids starting with 'deploy-' belong to deployments.",
            details={"schedule_id": "must not start with 'deploy-' (a deployment's `schedule` makes those)"},
        )
    flow = _flow(session, org_id, data.flow_name)
    _check_target(session, org_id, flow, data.flow_version, data.environment)
    _check_parameters(data.parameters)
    if repo.schedule_id_taken(session, org_id, data.schedule_id):
        raise Conflict(
            f"Schedule {data.schedule_id} already exists.", details={"schedule_id": "already exists"}
        )
    now = utcnow()
    fields = data.model_dump(exclude={"flow_name", *_TIMES})
    schedule = Schedule(org_id=org_id, flow_id=flow.id, flow_name=flow.name, created_at=now, updated_at=now)
    for name, value in fields.items():
        setattr(schedule, name, value)
    for name in _TIMES:
        value = getattr(data, name)
        setattr(schedule, name, None if value is None else local_datetime(value, data.timezone))
    settle(schedule, now=now)
    _check_fits(session, schedule)
    repo.add(session, schedule)
    audit(session, actor, schedule, Action.CREATE, diff({}, audit_state(schedule)))
    return read_schedules(session, [schedule])[0]


def list_schedules(
    connection: Connection,
    *,
    actor: Actor,
    page: PageRequest,
    flow_name: str | None,
    mode: str | None,
    enabled: bool | None,
) -> KeysetPage[dict[str, Any]]:
    """By schedule id. Read path (docs/adr/0007-list-read-path.md): the items are `ScheduleRead`'s
    fields as plain values, deployment names joined in, rendered once by the router."""
    if mode is not None and mode not in MODES:
        raise InvalidInput("Unknown mode.", details={"mode": f"one of {', '.join(MODES)}"})
    return repo.list_page(
        connection, actor.org_id, page, flow_name=flow_name, mode=mode, enabled=enabled, to_item=_list_item
    )


def get_schedule(session: Session, *, actor: Actor, schedule_id: str) -> ScheduleRead:
    return read_schedules(session, [_schedule(session, actor.org_id, schedule_id)])[0]


def update_schedule(
    session: Session, *, actor: Actor, schedule_id: str, data: ScheduleUpdate
) -> ScheduleRead:
    """Only the fields given change; the result is checked as a whole and `next_run_at` is
    computed again from now."""
    given = data.model_fields_set
    if not given:
        raise InvalidInput("No fields to update.", details={"body": "give at least one field"})
    nulls = [name for name in _NOT_NULL if name in given and getattr(data, name) is None]
    if nulls:
        raise InvalidInput("These fields cannot be null.", details=dict.fromkeys(nulls, "must not be null"))
    schedule = _schedule(session, actor.org_id, schedule_id)
    owned = [name for name in _DEPLOYMENT_OWNED if name in given]
    if schedule.deployment_id is not None and owned:
        raise Conflict(
            "This schedule belongs to a deployment: change the deployment's `schedule` instead.",
            details=dict.fromkeys(owned, "set by the deployment"),
        )
    before = audit_state(schedule)
    if "mode" in given and data.mode != schedule.mode:
        for field in MODE_FIELDS.values():
            if field not in given:
                setattr(schedule, field, None)
    if "flow_version" in given or "environment" in given:
        flow = _flow(session, actor.org_id, schedule.flow_name)
        version = data.flow_version if "flow_version" in given else schedule.flow_version
        environment = data.environment if "environment" in given else schedule.environment
        _check_target(session, actor.org_id, flow, version, environment)
    if data.parameters is not None:
        _check_parameters(data.parameters)
    _apply(schedule, data, given)
    if given & {"parameters", "flow_version", "environment"}:
        _check_fits(session, schedule)
    now = utcnow()
    settle(schedule, now=now)
    schedule.updated_at = now
    session.flush()
    audit(session, actor, schedule, Action.UPDATE, diff(before, audit_state(schedule)))
    return read_schedules(session, [schedule])[0]


def delete_schedule(session: Session, *, actor: Actor, schedule_id: str) -> None:
    """Its runs stay (they lose the link); its fire times go. A deployment's schedule goes with
    `schedule: ""` on the deployment (409 here)."""
    schedule = _schedule(session, actor.org_id, schedule_id)
    if schedule.deployment_id is not None:
        raise Conflict(
            'This schedule belongs to a deployment: set the deployment\'s `schedule` to "" to remove it.',
            details={"schedule_id": "set by a deployment"},
        )
    before = audit_state(schedule)
    repo.delete(session, schedule)
    audit(session, actor, schedule, Action.DELETE, diff(before, {}))


def trigger_schedule(
    session: Session, *, actor: Actor, schedule_id: str, data: ScheduleTrigger, settings: Settings
) -> ScheduleTriggered:
    """Run the schedule's flow now, with its parameters and the body's merged over them; the run
    carries the schedule's id and the tag `manual` (runs of fire times carry `scheduled`)."""
    schedule = _schedule(session, actor.org_id, schedule_id)
    names = repo.deployment_names(
        session, actor.org_id, [schedule.deployment_id] if schedule.deployment_id else []
    )
    request = run_request(
        session,
        schedule,
        deployment_name=names.get(schedule.deployment_id or ""),
        parameters=dict(schedule.parameters or {}) | data.parameters,
        tag=MANUAL_TAG,
    )
    origin = RunOrigin(actor=actor, org_id=actor.org_id, trigger=SCHEDULE, schedule_id=schedule.id)
    run = runs.trigger_schedule_run(session, origin=origin, data=request, settings=settings)
    schedule.last_run_at, schedule.last_run_id = run.created_at, run.run_id
    session.flush()
    audit(session, actor, schedule, Action.EXECUTE, {"run_id": [None, run.run_id]})
    return ScheduleTriggered(
        run_id=run.run_id,
        run_slug=run.run_slug,
        schedule_id=schedule.schedule_id,
        flow_name=run.flow_name,
        flow_version=run.flow_version,
        status=run.status,
        created_at=run.created_at,
    )


def list_schedule_runs(
    connection: Connection, *, actor: Actor, schedule_id: str, page: PageRequest
) -> KeysetPage[dict[str, Any]]:
    """The runs the schedule started (fire times and manual triggers), newest first; an unknown
    schedule is a 404. Read path: the items are `ScheduleRun`'s fields as plain values. The two
    statements need no common snapshot: a schedule deleted in between leaves its runs unlinked,
    and the page is then empty."""
    pk = repo.schedule_pk(connection, actor.org_id, schedule_id)
    if pk is None:
        raise NotFound(f"Schedule {schedule_id} not found.")
    return runs_service.list_runs(
        connection, actor=actor, page=page, filters=runs_service.RunFilters(schedule_id=schedule_id)
    )


def run_request(
    session: Session, schedule: Schedule, *, deployment_name: str | None, parameters: dict[str, Any], tag: str
) -> RunTrigger:
    """The run a schedule asks for: its deployment's; else its flow's deployment in its environment
    (404 naming `environment` when there is none any more); else its flow at its version."""
    if deployment_name is None and schedule.environment is not None:
        deployment_name = repo.deployment_in_environment(
            session, schedule.org_id, schedule.flow_id, schedule.environment
        )
        if deployment_name is None:
            raise NotFound(
                f"Flow {schedule.flow_name} has no deployment in environment {schedule.environment}.",
                details={"environment": "no deployment of the flow there"},
            )
    if deployment_name is not None:
        return RunTrigger(deployment=deployment_name, parameters=parameters, tags=[tag])
    return RunTrigger(
        flow_name=schedule.flow_name, flow_version=schedule.flow_version, parameters=parameters, tags=[tag]
    )


def read_schedules(session: Session, schedules: Sequence[Schedule]) -> list[ScheduleRead]:
    """Responses for schedules of one org; their deployments' names in one query."""
    if not schedules:
        return []
    ids = {s.deployment_id for s in schedules if s.deployment_id}
    names = repo.deployment_names(session, schedules[0].org_id, ids)
    return [
        ScheduleRead(
            **{field: getattr(s, field) for field in ScheduleRead.model_fields if hasattr(Schedule, field)},
            deployment_name=names.get(s.deployment_id or ""),
        )
        for s in schedules
    ]


def _apply(schedule: Schedule, data: ScheduleUpdate, given: set[str]) -> None:
    timezone = data.timezone if data.timezone is not None else schedule.timezone
    for name in given:
        value = getattr(data, name)
        if name in _TIMES and value is not None:
            value = local_datetime(value, timezone)
        setattr(schedule, name, value)


def _check_target(
    session: Session, org_id: str, flow: Flow, version: str | int | None, environment: str | None
) -> None:
    if version is not None and environment is not None:
        raise InvalidInput(
            "Give flow_version or environment, not both.",
            details={"environment": "a deployment runs its own version; leave out flow_version"},
        )
    if version is not None:
        flows.labelled_version(session, flow=flow, label=str(version))
    if environment is not None:
        environments.environment_named(session, org_id=org_id, name=environment)


def _check_fits(session: Session, schedule: Schedule) -> None:
    """The schedule's parameters must fit the version it would run now: its deployment's, its
    environment's deployment's, the version it names, or its flow's latest (400 naming
    `parameters.<name>`). One whose environment has no deployment of its flow yet is checked when it
    fires, as is any fire time after a new version: a run refused then is recorded, not retried."""
    deployment_name = None
    if schedule.deployment_id is not None:
        ids = [schedule.deployment_id]
        deployment_name = repo.deployment_names(session, schedule.org_id, ids).get(schedule.deployment_id)
    elif schedule.environment is not None:
        deployment_name = repo.deployment_in_environment(
            session, schedule.org_id, schedule.flow_id, schedule.environment
        )
        if deployment_name is None:
            return
    parameters = dict(schedule.parameters or {})
    request = run_request(
        session, schedule, deployment_name=deployment_name, parameters=parameters, tag=SCHEDULED_TAG
    )
    runs.check_run_parameters(session, org_id=schedule.org_id, data=request)


def _check_parameters(parameters: dict[str, Any]) -> None:
    if len(json.dumps(parameters).encode()) > MAX_PARAMETERS_BYTES:
        raise InvalidInput(
            "Parameters are too large.", details={"parameters": f"at most {MAX_PARAMETERS_BYTES} bytes"}
        )


def _flow(session: Session, org_id: str, flow_name: str) -> Flow:
    return flows.flow_named(session, org_id=org_id, flow_name=flow_name)


def _schedule(session: Session, org_id: str, schedule_id: str) -> Schedule:
    schedule = repo.get_schedule(session, org_id, schedule_id)
    if schedule is None:
        raise NotFound(f"Schedule {schedule_id} not found.")
    return schedule


_READ_FIELDS = tuple(ScheduleRead.model_fields)


def _list_item(row: ListRow) -> dict[str, Any]:
    """`ScheduleRead`'s fields, in its order, from a `repo.LIST_PAGES` row (which selects each
    under its name)."""
    values = row._mapping
    return {field: values[field] for field in _READ_FIELDS}
