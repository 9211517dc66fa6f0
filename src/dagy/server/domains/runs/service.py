"""Reading runs, cancelling them, their logs and node runs (tasks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, PageRequest
from dagy.server.db.base import utcnow
from dagy.server.db.models import NodeRun, Run
from dagy.server.domains.audit_logs.service import Action, record
from dagy.server.domains.runs import approvals
from dagy.server.domains.runs import repository as repo
from dagy.server.domains.runs.approvals import end_unfinished_node_runs
from dagy.server.domains.runs.schemas import (
    LogEvent,
    NodeRunList,
    NodeRunRead,
    RunCancelled,
    RunListItem,
    RunLogs,
    RunRead,
    WaitingFor,
)
from dagy.server.domains.runs.trigger import TRIGGERS
from dagy.server.domains.workers import service as workers
from dagy.server.errors import InvalidInput, NotFound
from dagy.server.identity import Actor
from dagy.server.orchestration import ACTIVE_RUN_STATES, RunState, set_run_state

_LOG_TOKEN_PREFIX = "f/"  # noqa: S105 - a cursor prefix, not a secret


@dataclass(frozen=True)
class RunFilters:
    """`GET /runs`' filters; None is not filtered on."""

    flow_name: str | None = None
    status: str | None = None
    trigger: str | None = None
    schedule_id: str | None = None
    sensor_id: str | None = None
    created_after: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive


def list_runs(
    connection: Connection, *, actor: Actor, page: PageRequest, filters: RunFilters
) -> KeysetPage[dict[str, Any]]:
    """Newest first. Read path (docs/adr/0007-list-read-path.md): the items are `RunListItem`'s
    fields as plain values, rendered once by the router. A schedule's runs are those filtered on
    its `schedule_id`."""
    if filters.status is not None and filters.status not in set(RunState):
        raise InvalidInput("Unknown run status.", details={"status": f"one of {', '.join(RunState)}"})
    if filters.trigger is not None and filters.trigger not in TRIGGERS:
        raise InvalidInput("Unknown run trigger.", details={"trigger": f"one of {', '.join(TRIGGERS)}"})
    if filters.created_after and filters.created_before and filters.created_after >= filters.created_before:
        raise InvalidInput(
            "The time range is empty.", details={"created_before": "must be later than created_after"}
        )
    return repo.list_page(connection, actor.org_id, page, filters=asdict(filters), to_item=_list_row)


def _list_row(row: Sequence[Any]) -> dict[str, Any]:
    """A `RunListItem`'s fields, in its order, from a `repo.LIST_PAGES` row."""
    (run_id, run_slug, flow_name, flow_version, status, created_at, started_at, completed_at) = row[:8]
    trigger, schedule_id, scheduled_for, sensor_id, sensor_event_id, tags, waiting_for = row[8:]
    return {
        "run_id": run_id,
        "run_slug": run_slug,
        "flow_name": flow_name,
        "flow_version": flow_version,
        "status": status,
        "created_at": created_at,
        "started_at": started_at,
        "completed_at": completed_at,
        "duration_seconds": duration_seconds(started_at, completed_at),
        "trigger": trigger,
        "schedule_id": schedule_id,
        "scheduled_for": scheduled_for,
        "sensor_id": sensor_id,
        "sensor_event_id": sensor_event_id,
        "tags": [str(tag) for tag in tags or []],
        "waiting_for": waiting_for or None,
    }


def get_run(session: Session, *, actor: Actor, run_id: str) -> RunRead:
    run = _run(session, actor, run_id)
    return RunRead(
        **_list_item(session, run).model_dump(),
        status_detail=workers.unserved_detail(session, run.org_id, run.executor)
        if run.status == RunState.QUEUED
        else None,
        worker_id=run.lease_owner,
        attempt=run.attempt,
        deployment_name=run.deployment_name,
        executor=run.executor,
        execution_mode=run.execution_mode,
        parameters=run.parameters,
        output=run.output,
        error=run.error,
        retry_count=run.retry_count,
    )


def cancel_run(session: Session, *, actor: Actor, run_id: str) -> RunCancelled:
    """Queued runs stop at once; a running run's worker sees the request in its next heartbeat; a
    run waiting for an approval stops waiting. The row is locked: a cancel and a decision on the
    same run happen one after the other."""
    run = _run(session, actor, run_id, lock=True)
    before, now, waiting = run.status, utcnow(), run.waiting_for is not None
    set_run_state(session, run, RunState.CANCELLED, now=now)
    if waiting:
        approvals.forget_wait(session, run)
    if run.attempt:
        end_unfinished_node_runs(session, run, run.attempt, now=now)
    record(
        session,
        actor=actor,
        action=Action.UPDATE,
        resource_type="run",
        resource_id=run.id,
        resource_name=run.run_slug,
        changes={"status": [before, run.status]},
    )
    return RunCancelled(run_id=run.id, status=run.status, cancelled_at=run.cancelled_at)


def get_run_logs(
    session: Session, *, actor: Actor, run_id: str, limit: int, next_token: str | None
) -> RunLogs:
    """A tail, keyed on the log row id: the token continues right after the last line returned, and
    stays present while the run may still write, so a follower never misses or repeats a line."""
    run = _run(session, actor, run_id)
    after = _log_position(next_token)
    rows = repo.list_logs(session, run.id, after_id=after, limit=limit)
    last = rows[-1].id if rows else after
    more = len(rows) == limit or run.status in ACTIVE_RUN_STATES
    return RunLogs(
        events=[
            LogEvent(timestamp=r.timestamp, message=r.message, ingestion_time=r.ingestion_time) for r in rows
        ],
        next_token=f"{_LOG_TOKEN_PREFIX}{last}" if more else None,
    )


def list_node_runs(session: Session, *, actor: Actor, run_id: str) -> NodeRunList:
    run = _run(session, actor, run_id)
    return NodeRunList(run_id=run.id, items=[_node_run_read(n) for n in repo.list_node_runs(session, run.id)])


def _run(session: Session, actor: Actor, run_id: str, *, lock: bool = False) -> Run:
    run = repo.get_run_by_id_or_slug(session, actor.org_id, run_id, lock=lock)
    if run is None:
        raise NotFound("Run not found.")
    return run


def _log_position(token: str | None) -> int:
    if not token:
        return 0
    digits = token.removeprefix(_LOG_TOKEN_PREFIX)
    if not token.startswith(_LOG_TOKEN_PREFIX) or not digits.isdigit() or len(digits) > 19:
        raise InvalidInput("Invalid pagination token.", details={"next_token": "malformed token"})
    return int(digits)


def duration_seconds(started_at: datetime | None, completed_at: datetime | None) -> float | None:
    if started_at is None or completed_at is None:
        return None
    return round((completed_at - started_at).total_seconds(), 3)


def _list_item(session: Session, run: Run) -> RunListItem:
    return RunListItem(
        run_id=run.id,
        run_slug=run.run_slug,
        flow_name=run.flow_name,
        flow_version=run.flow_version,
        status=run.status,
        created_at=run.created_at,
        started_at=run.started_at,
        completed_at=run.completed_at,
        duration_seconds=duration_seconds(run.started_at, run.completed_at),
        trigger=run.trigger,
        schedule_id=repo.schedule_name(session, run.schedule_id) if run.schedule_id else None,
        scheduled_for=run.scheduled_for,
        sensor_id=run.sensor_id,
        sensor_event_id=run.sensor_event_id,
        tags=[str(tag) for tag in run.tags or []],
        waiting_for=WaitingFor.model_validate(run.waiting_for) if run.waiting_for else None,
    )


def _node_run_read(node_run: NodeRun) -> NodeRunRead:
    return NodeRunRead(
        node_id=node_run.node_id,
        node_type=node_run.node_type,
        status=node_run.status,
        attempt=node_run.attempt,
        tries=node_run.tries,
        worker_id=node_run.worker_id,
        started_at=node_run.started_at,
        completed_at=node_run.completed_at,
        duration_seconds=duration_seconds(node_run.started_at, node_run.completed_at),
        output=node_run.output,
        error=node_run.error,
    )
