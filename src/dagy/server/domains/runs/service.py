"""Triggering runs, reading them, cancelling them, their logs and node runs."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from dagy.server.api.pagination import PageRequest, paginate
from dagy.server.db.base import new_id, utcnow
from dagy.server.db.models import NodeRun, Run
from dagy.server.domains.audit_logs.service import Action, AuditEntry, record, record_many
from dagy.server.domains.deployments import service as deployments
from dagy.server.domains.deployments.backends import check_executor
from dagy.server.domains.deployments.service import DeploymentRunSettings
from dagy.server.domains.runs import repository as repo
from dagy.server.domains.runs.repository import VersionToRun
from dagy.server.domains.runs.schemas import (
    LogEvent,
    NodeRunList,
    NodeRunRead,
    RunCancelled,
    RunListItem,
    RunLogs,
    RunPage,
    RunRead,
    RunTrigger,
    RunTriggered,
)
from dagy.server.errors import Conflict, DagyError, InvalidInput, NotFound
from dagy.server.identity import SYSTEM_ACTOR, Actor
from dagy.server.orchestration import ACTIVE_RUN_STATES, RunState, set_run_state
from dagy.server.orchestration.wakeup import mark_runs_queued
from dagy.server.settings import Settings

MAX_PARAMETERS_BYTES = 256 * 1024
# How long an `X-Idempotency-Key` answers the run it created; after that the key starts a new run.
IDEMPOTENCY_WINDOW = timedelta(hours=24)
_SLUG_ATTEMPTS = 8
_LOG_TOKEN_PREFIX = "f/"  # noqa: S105 - a cursor prefix, not a secret


def trigger_run(
    session: Session, *, actor: Actor, data: RunTrigger, idempotency_key: str | None, settings: Settings
) -> RunTriggered:
    """Queue a run of a flow version (or record it `pending` with `execute: false`). The same
    idempotency key within `IDEMPOTENCY_WINDOW` answers the run it first created. An `executor`
    named in the request must be one of this installation's (`/backends`)."""
    now = utcnow()
    if idempotency_key:
        existing = _run_for_key(session, actor.org_id, idempotency_key, now)
        if existing is not None:
            return _triggered(existing)
    _check_parameters(data)
    origin = RunOrigin(actor=actor, org_id=actor.org_id)
    return _queue_run(session, origin, data, key=idempotency_key or None, settings=settings, now=now)


def trigger_sensor_run(
    session: Session, *, org_id: str, sensor_id: str, data: RunTrigger, settings: Settings
) -> RunTriggered:
    """Queue a run a sensor starts: validated and created as `trigger_run` creates a member's run,
    recorded with the sensor's id and audited as the system acting in the sensor's org. The sensors
    domain bounds the parameters (an event of up to 1 MB, docs/sensors.md), not `MAX_PARAMETERS_BYTES`."""
    origin = RunOrigin(actor=SYSTEM_ACTOR, org_id=org_id, sensor_id=sensor_id)
    return _queue_run(session, origin, data, key=None, settings=settings, now=utcnow())


def trigger_schedule_run(
    session: Session, *, origin: RunOrigin, data: RunTrigger, settings: Settings
) -> RunTriggered:
    """Queue a run a member starts through a schedule (`POST /schedules/{id}/trigger`). Checked and
    created as `trigger_run` does; a refusal raises before anything is written."""
    _check_parameters(data)
    return _queue_run(session, origin, data, key=None, settings=settings, now=utcnow())


def trigger_scheduled_runs(
    session: Session, requests: Sequence[RunRequest], *, settings: Settings
) -> list[RunTriggered | DagyError]:
    """Queue the runs of a scheduler batch, one answer per request in order: the run, or why it was
    refused (nothing is written for a refused one). Each is checked and created as
    `trigger_schedule_run` creates one, but the batch looks each flow version or deployment up once
    and writes its runs, then their audit rows, with one statement each (executemany)."""
    now = utcnow()
    targets = _Targets(session)
    answers: list[Run | DagyError] = []
    for request in requests:
        try:
            _check_parameters(request.data)
            check_executor(request.data.executor, settings, field="executor")
            answers.append(
                _prepared_run(
                    session,
                    request.origin,
                    request.data,
                    _plan(targets, request.origin.org_id, request.data, settings.default_executor),
                    key=None,
                    now=now,
                )
            )
        except DagyError as exc:
            answers.append(exc)
    runs = [a for a in answers if isinstance(a, Run)]
    taken = {run.id for run in runs} - repo.add_runs(session, runs)
    for run in runs:
        if run.id in taken:  # its slug was taken: `_insert` retries with a suffixed one
            _insert(session, run)
    record_many(
        session,
        [
            _audit_entry(request.origin, a)
            for request, a in zip(requests, answers, strict=True)
            if isinstance(a, Run)
        ],
    )
    return [a if isinstance(a, DagyError) else _triggered(a) for a in answers]


@dataclass(frozen=True)
class RunOrigin:
    """Who asks for a run: a member (an actor in its org), a sensor or a schedule (the system in its
    org, or a member triggering the schedule by hand: `scheduled_for` None)."""

    actor: Actor
    org_id: str
    sensor_id: str | None = None
    schedule_id: str | None = None
    scheduled_for: datetime | None = None


@dataclass(frozen=True)
class RunRequest:
    """One run of a batch (`trigger_scheduled_runs`): who asks, and for what."""

    origin: RunOrigin
    data: RunTrigger


def _check_parameters(data: RunTrigger) -> None:
    if len(json.dumps(data.parameters).encode()) > MAX_PARAMETERS_BYTES:
        raise InvalidInput(
            "Parameters are too large.", details={"parameters": f"at most {MAX_PARAMETERS_BYTES} bytes"}
        )


def _queue_run(
    session: Session,
    origin: RunOrigin,
    data: RunTrigger,
    *,
    key: str | None,
    settings: Settings,
    now: datetime,
) -> RunTriggered:
    check_executor(data.executor, settings, field="executor")
    _check_flow_or_deployment(data)
    if data.deployment is None:
        inserted = _insert_run_of_version(session, origin, data, key=key, settings=settings, now=now)
        if inserted is not None:
            record(session, **_audit_entry(origin, inserted))
            return _triggered(inserted)
    plan = _plan(_Targets(session), origin.org_id, data, settings.default_executor)
    run = _prepared_run(session, origin, data, plan, key=key, now=now)
    winner = _insert(session, run)
    if winner is not None:
        return _triggered(winner)
    record(session, **_audit_entry(origin, run))
    return _triggered(run)


def _prepared_run(
    session: Session, origin: RunOrigin, data: RunTrigger, plan: _Plan, *, key: str | None, now: datetime
) -> Run:
    """The run `plan` makes of `data`, in its first state, not yet inserted."""
    run = _new_run(origin.org_id, data, plan, key=key, now=now)
    run.sensor_id = origin.sensor_id
    run.schedule_id, run.scheduled_for = origin.schedule_id, origin.scheduled_for
    if origin.schedule_id is not None and origin.scheduled_for is not None:
        # A fire time's run is named by the fire time and its schedule (the random end of its id):
        # scheduler batches, which hold different schedules, never wait on each other's slugs.
        run.run_slug = f"{_plain_slug(plan.flow_name, origin.scheduled_for)}-{origin.schedule_id[-6:]}"
    set_run_state(session, run, RunState.QUEUED if data.execute else RunState.PENDING, now=now)
    return run


def _insert_run_of_version(
    session: Session,
    origin: RunOrigin,
    data: RunTrigger,
    *,
    key: str | None,
    settings: Settings,
    now: datetime,
) -> Run | None:
    """The common case in one round trip: the run of a flow version, the version looked up by the
    insert itself. None when nothing was inserted (no such flow or version, or a taken slug or
    idempotency key): the caller then goes the long way, which tells those apart."""
    unknown = VersionToRun(id="", flow_id="", version="", default_executor=None)
    expected_executor = data.executor or settings.default_executor  # unless the version names one
    plan = _Plan(
        flow_name=str(data.flow_name),
        version=unknown,
        deployment_name=None,
        executor=expected_executor,
        execution_mode=data.execution_mode,
        max_retries=data.max_retries,
    )
    run = _prepared_run(session, origin, data, plan, key=key, now=now)
    found = repo.add_run_of_version(
        session,
        run,
        version=None if data.flow_version is None else str(data.flow_version),
        executor=data.executor,
        default_executor=settings.default_executor,
    )
    if found is None:
        return None
    run.flow_id, run.flow_version_id, run.flow_version, run.executor = found
    if run.executor != expected_executor and run.status == RunState.QUEUED:
        mark_runs_queued(session, run.executor)
    _recent_slugs.taken(run)
    return run


def _audit_entry(origin: RunOrigin, run: Run) -> AuditEntry:
    """The audit row of a new run (`record`'s arguments)."""
    changes = {"status": [None, run.status], "flow_version": [None, run.flow_version]}
    if origin.sensor_id is not None:
        changes["sensor_id"] = [None, origin.sensor_id]
    if origin.schedule_id is not None:
        changes["schedule_id"] = [None, origin.schedule_id]
    return {
        "actor": origin.actor,
        "action": Action.EXECUTE,
        "resource_type": "run",
        "resource_id": run.id,
        "resource_name": run.run_slug,
        "changes": changes,
        "org_id": origin.org_id,
    }


def _insert(session: Session, run: Run) -> Run | None:
    """Insert `run`; None when it was inserted, else the run that took its idempotency key first
    (a concurrent request with the same key won the race). A taken slug is replaced by a suffixed
    one and the insert tried again."""
    for _ in range(_SLUG_ATTEMPTS):
        if repo.add_run(session, run):
            _recent_slugs.taken(run)
            return None
        if run.idempotency_key:
            existing = repo.get_run_by_idempotency_key(session, run.org_id, run.idempotency_key)
            if existing is not None:
                return existing
        _recent_slugs.taken(run)
        run.run_slug = _suffixed(_plain_slug(run.flow_name, run.created_at))
    raise Conflict("Could not find a free run slug; try again.")


def _run_for_key(session: Session, org_id: str, key: str, now: datetime) -> Run | None:
    """The run `key` answers with, or None once its window has passed (the key is then released, so
    the run this request creates can take it)."""
    existing = repo.get_run_by_idempotency_key(session, org_id, key)
    if existing is None or existing.created_at > now - IDEMPOTENCY_WINDOW:
        return existing
    repo.release_idempotency_key(session, org_id, key, created_before=now - IDEMPOTENCY_WINDOW)
    return None


def _new_run(org_id: str, data: RunTrigger, plan: _Plan, *, key: str | None, now: datetime) -> Run:
    version = plan.version
    return Run(
        id=new_id("run"),
        org_id=org_id,
        flow_id=version.flow_id,
        flow_version_id=version.id,
        flow_name=plan.flow_name,
        flow_version=version.version,
        run_slug=_recent_slugs.first_try(org_id, plan.flow_name, now),
        deployment_name=plan.deployment_name,
        executor=plan.executor,
        execution_mode=plan.execution_mode,
        priority=data.priority,
        parameters=data.parameters,
        tags=list(data.tags),
        retry_count=0,
        max_retries=plan.max_retries,
        attempt=0,
        cancel_requested=False,
        idempotency_key=key,
        created_at=now,
        updated_at=now,
    )


def list_runs(
    session: Session, *, actor: Actor, page: PageRequest, flow_name: str | None, status: str | None
) -> RunPage:
    if status is not None and status not in set(RunState):
        raise InvalidInput("Unknown run status.", details={"status": f"one of {', '.join(RunState)}"})
    result = paginate(
        session,
        repo.runs_query(actor.org_id, flow_name=flow_name, status=status),
        order_by=[Run.created_at, Run.id],
        page=page,
        to_item=_list_item,
    )
    return RunPage(items=result.items, next_token=result.next_token)


def get_run(session: Session, *, actor: Actor, run_id: str) -> RunRead:
    run = _run(session, actor, run_id)
    return RunRead(
        **_list_item(run).model_dump(),
        deployment_name=run.deployment_name,
        executor=run.executor,
        execution_mode=run.execution_mode,
        parameters=run.parameters,
        output=run.output,
        error=run.error,
        retry_count=run.retry_count,
        tags=list(run.tags or []),
    )


def cancel_run(session: Session, *, actor: Actor, run_id: str) -> RunCancelled:
    """Queued runs stop at once; a running run's worker sees the request in its next heartbeat."""
    run = _run(session, actor, run_id)
    before = run.status
    set_run_state(session, run, RunState.CANCELLED, now=utcnow())
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


def _run(session: Session, actor: Actor, run_id: str) -> Run:
    run = repo.get_run_by_id_or_slug(session, actor.org_id, run_id)
    if run is None:
        raise NotFound("Run not found.")
    return run


@dataclass(frozen=True)
class _Plan:
    flow_name: str
    version: VersionToRun
    deployment_name: str | None
    executor: str
    execution_mode: str
    max_retries: int


class _Targets:
    """The flow versions and deployments runs are created from, each looked up once per request or
    batch (a scheduler batch names the same few many times). A lookup that failed fails again."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._found: dict[tuple[str, ...], VersionToRun | DeploymentRunSettings | DagyError] = {}

    def version(self, org_id: str, data: RunTrigger) -> VersionToRun:
        key = (
            "version",
            org_id,
            str(data.flow_name),
            "" if data.flow_version is None else str(data.flow_version),
        )
        found = self._lookup(key, lambda: _flow_version(self.session, org_id, data))
        assert isinstance(found, VersionToRun)
        return found

    def deployment(self, org_id: str, name: str) -> DeploymentRunSettings:
        key = ("deployment", org_id, name)
        found = self._lookup(
            key, lambda: deployments.run_settings(self.session, org_id=org_id, deployment_name=name)
        )
        assert isinstance(found, DeploymentRunSettings)
        return found

    def _lookup(
        self, key: tuple[str, ...], find: Callable[[], VersionToRun | DeploymentRunSettings]
    ) -> VersionToRun | DeploymentRunSettings:
        if key not in self._found:
            try:
                self._found[key] = find()
            except DagyError as exc:
                self._found[key] = exc
        found = self._found[key]
        if isinstance(found, DagyError):
            raise found
        return found


def _plan(targets: _Targets, org_id: str, data: RunTrigger, default_executor: str) -> _Plan:
    """What to run and how: a deployment's version and settings, or a flow version. What the
    request names explicitly wins over what the deployment or version says."""
    given = data.model_fields_set
    _check_flow_or_deployment(data)
    if data.deployment is None:
        version = targets.version(org_id, data)
        return _Plan(
            flow_name=str(data.flow_name),
            version=version,
            deployment_name=None,
            executor=data.executor or version.default_executor or default_executor,
            execution_mode=data.execution_mode,
            max_retries=data.max_retries,
        )
    deployed = targets.deployment(org_id, data.deployment)
    deployed_version = deployed.version
    return _Plan(
        flow_name=deployed.flow_name,
        version=VersionToRun(
            id=deployed_version.id,
            flow_id=deployed_version.flow_id,
            version=deployed_version.version,
            default_executor=deployed_version.default_executor,
        ),
        deployment_name=deployed.deployment_name,
        executor=data.executor or deployed.executor or default_executor,
        execution_mode=data.execution_mode if "execution_mode" in given else deployed.execution_mode,
        max_retries=data.max_retries if "max_retries" in given else deployed.max_retries,
    )


def _check_flow_or_deployment(data: RunTrigger) -> None:
    problems: dict[str, str] = {}
    if data.flow_name is None and data.deployment is None:
        problems["flow_name"] = "required (or give deployment)"
    elif data.flow_name is not None and data.deployment is not None:
        problems["deployment"] = "give flow_name or deployment, not both"
    elif data.deployment is not None and data.flow_version is not None:
        problems["flow_version"] = "a deployment runs its own version; change it with PATCH /deployments"
    if problems:
        raise InvalidInput("Invalid run request.", details=problems)


def _flow_version(session: Session, org_id: str, data: RunTrigger) -> VersionToRun:
    name = str(data.flow_name)
    wanted = None if data.flow_version is None else str(data.flow_version)
    version = repo.find_flow_version(session, org_id, name, wanted)
    if version is not None:
        return version
    if not repo.flow_exists(session, org_id, name):
        raise NotFound(f"Flow {name} not found.")
    raise NotFound(f"Flow {name} has no version {data.flow_version}.")


def _plain_slug(flow_name: str, now: datetime) -> str:
    return f"{flow_name}-{now:%Y-%m-%d-%H%M%S}"


def _suffixed(plain: str) -> str:
    return f"{plain}-{secrets.token_hex(2)}"


class _RecentSlugs:
    """The plain slug (`<flow>-<second>`) each flow of this process last took or found taken: within
    that second the next run goes straight to a suffixed slug instead of trying the plain one
    first. A hint only; the insert's unique index decides."""

    _MAX = 4096

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], str] = {}

    def taken(self, run: Run) -> None:
        if len(self._last) >= self._MAX:
            self._last.clear()
        self._last[(run.org_id, run.flow_name)] = _plain_slug(run.flow_name, run.created_at)

    def first_try(self, org_id: str, flow_name: str, now: datetime) -> str:
        """`<flow>-YYYY-MM-DD-HHMMSS`, suffixed with 4 random hex digits when that second is known
        taken."""
        plain = _plain_slug(flow_name, now)
        return _suffixed(plain) if self._last.get((org_id, flow_name)) == plain else plain


_recent_slugs = _RecentSlugs()


def _log_position(token: str | None) -> int:
    if not token:
        return 0
    digits = token.removeprefix(_LOG_TOKEN_PREFIX)
    if not token.startswith(_LOG_TOKEN_PREFIX) or not digits.isdigit() or len(digits) > 19:
        raise InvalidInput("Invalid pagination token.", details={"next_token": "malformed token"})
    return int(digits)


def _duration(started_at: datetime | None, completed_at: datetime | None) -> float | None:
    if started_at is None or completed_at is None:
        return None
    return round((completed_at - started_at).total_seconds(), 3)


def _triggered(run: Run) -> RunTriggered:
    return RunTriggered(
        run_id=run.id,
        run_slug=run.run_slug,
        flow_name=run.flow_name,
        flow_version=run.flow_version,
        status=run.status,
        created_at=run.created_at,
        parameters=run.parameters,
    )


def _list_item(run: Run) -> RunListItem:
    return RunListItem(
        run_id=run.id,
        run_slug=run.run_slug,
        flow_name=run.flow_name,
        flow_version=run.flow_version,
        status=run.status,
        created_at=run.created_at,
        started_at=run.started_at,
        completed_at=run.completed_at,
        duration_seconds=_duration(run.started_at, run.completed_at),
    )


def _node_run_read(node_run: NodeRun) -> NodeRunRead:
    return NodeRunRead(
        node_id=node_run.node_id,
        node_type=node_run.node_type,
        status=node_run.status,
        attempt=node_run.attempt,
        tries=node_run.tries,
        started_at=node_run.started_at,
        completed_at=node_run.completed_at,
        duration_seconds=_duration(node_run.started_at, node_run.completed_at),
        output=node_run.output,
        error=node_run.error,
    )
