"""Creating runs: a member's trigger, a sensor's, a schedule's (one by hand, or a scheduler batch).

Every run is created the same way (`_queue`): its flow version or deployment is looked up (once per
batch), its first state set by orchestration, and the runs inserted with one statement; a slug or
idempotency key taken meanwhile is settled after the insert. Then one audit row per run. A single
run named by its flow (the busiest case, `POST /runs`) has its version looked up by its INSERT
itself (`repo.VersionLookup`): one round trip instead of two.

A flow version may carry a JSON Schema of its parameters (declared in its spec, or read from a
code flow's entry function): a run's parameters must fit it, checked before anything is written,
and the run gets the schema's top-level defaults for what it leaves out (`runs/parameters.py`
`fitted`, the one place either happens). A run whose INSERT looks its version up is checked against
the version this process last found (`known_versions`), and the INSERT takes a version with a
schema only when it is that one; otherwise it inserts nothing, the version is looked up, checked
and its defaults filled in, and the run inserted again. Parameters that leave out a default of the
known version have their version looked up first instead: the INSERT binds them as they are.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.db.base import new_id, utcnow
from dagy.server.db.models import Run
from dagy.server.domains.audit_logs.service import Action, AuditEntry, record_many
from dagy.server.domains.deployments import service as deployments
from dagy.server.domains.deployments.backends import check_executor
from dagy.server.domains.deployments.service import DeploymentRunSettings
from dagy.server.domains.runs import repository as repo
from dagy.server.domains.runs.parameters import check_fit, fits, fitted, known_versions, lacks_defaults
from dagy.server.domains.runs.repository import VersionLookup, VersionToRun
from dagy.server.domains.runs.schemas import RunTrigger, RunTriggered
from dagy.server.domains.runs.slugs import plain_slug, recent_slugs, suffixed
from dagy.server.domains.usage import metering, quota
from dagy.server.errors import Conflict, DagyError, InvalidInput, NotFound
from dagy.server.identity import SYSTEM_ACTOR, Actor, PrincipalKind
from dagy.server.orchestration import RunState, set_run_state
from dagy.server.orchestration.wakeup import mark_runs_queued
from dagy.server.settings import Settings

MAX_PARAMETERS_BYTES = 256 * 1024
# How long an `X-Idempotency-Key` answers the run it created; after that the key starts a new run.
IDEMPOTENCY_WINDOW = timedelta(hours=24)
_SLUG_ATTEMPTS = 8


# What started a run (`Run.trigger`): a member's session, an API key, a schedule (its fire time, or
# a member triggering it by hand), a sensor that polls (S3, a URL), a webhook sensor.
MANUAL, API_KEY, SCHEDULE, SENSOR, WEBHOOK = "manual", "api_key", "schedule", "sensor", "webhook"
TRIGGERS = (MANUAL, API_KEY, SCHEDULE, SENSOR, WEBHOOK)


@dataclass(frozen=True)
class RunOrigin:
    """Who asks for a run: a member (an actor in its org), a sensor or a schedule (the system in its
    org, or a member triggering the schedule by hand: `scheduled_for` None); `trigger` says which."""

    actor: Actor
    org_id: str
    trigger: str = MANUAL
    sensor_id: str | None = None
    sensor_event_id: str | None = None
    schedule_id: str | None = None
    scheduled_for: datetime | None = None


@dataclass(frozen=True)
class RunRequest:
    """One run to create: who asks, for what, and the idempotency key it may take. `deployment_name`:
    a rerun's, recorded on a run of the version its original ran (`data` names the flow version)."""

    origin: RunOrigin
    data: RunTrigger
    key: str | None = None
    deployment_name: str | None = None


def trigger_run(
    session: Session, *, actor: Actor, data: RunTrigger, idempotency_key: str | None, settings: Settings
) -> RunTriggered:
    """Queue a run of a flow version (or record it `pending` with `execute: false`). The same
    idempotency key within `IDEMPOTENCY_WINDOW` answers the run it first created. An `executor`
    named in the request must be one of this installation's (`/backends`)."""
    if idempotency_key:
        existing = _run_for_key(session, actor.org_id, idempotency_key, utcnow())
        if existing is not None:
            return _triggered(existing)
    origin = _member_origin(actor)
    return _queue_one(session, RunRequest(origin, data, key=idempotency_key or None), settings)


def trigger_rerun(
    session: Session, *, actor: Actor, data: RunTrigger, deployment_name: str | None, settings: Settings
) -> RunTriggered:
    """Queue a run a member starts again (`POST /runs/{id}/rerun`): `data` names the flow version the
    original ran, and the run is recorded under the original's deployment, whose environment then
    gives it its variables and secrets, even when that deployment runs another version since."""
    request = RunRequest(_member_origin(actor), data, deployment_name=deployment_name)
    return _queue_one(session, request, settings)


def _member_origin(actor: Actor) -> RunOrigin:
    by_key = actor.principal is not None and actor.principal.kind == PrincipalKind.API_KEY
    return RunOrigin(actor=actor, org_id=actor.org_id, trigger=API_KEY if by_key else MANUAL)


def trigger_sensor_run(
    session: Session,
    *,
    org_id: str,
    sensor_id: str,
    event_id: str,
    webhook: bool,
    data: RunTrigger,
    settings: Settings,
) -> RunTriggered:
    """Queue a run a sensor starts for one of its events, recorded with the sensor's and the event's
    ids and audited as the system acting in the sensor's org. The sensors domain bounds the
    parameters (an event of up to 1 MB, docs/sensors.md), not `MAX_PARAMETERS_BYTES`."""
    origin = RunOrigin(
        actor=SYSTEM_ACTOR,
        org_id=org_id,
        trigger=WEBHOOK if webhook else SENSOR,
        sensor_id=sensor_id,
        sensor_event_id=event_id,
    )
    return _queue_one(session, RunRequest(origin, data), settings)


def trigger_schedule_run(
    session: Session, *, origin: RunOrigin, data: RunTrigger, settings: Settings
) -> RunTriggered:
    """Queue a run a member starts through a schedule (`POST /schedules/{id}/trigger`); a refusal
    raises before anything is written."""
    return _queue_one(session, RunRequest(origin, data), settings)


def trigger_scheduled_runs(
    session: Session, requests: Sequence[RunRequest], *, settings: Settings
) -> list[RunTriggered | DagyError]:
    """Queue the runs of a scheduler batch, one answer per request in order: the run, or why it was
    refused (nothing is written for a refused one). Each flow version or deployment is looked up
    once, and the runs, then their audit rows, are written with one statement each (executemany)."""
    return _queue(session, requests, settings=settings, now=utcnow())


def _queue_one(session: Session, request: RunRequest, settings: Settings) -> RunTriggered:
    """One run, its flow's version looked up by its INSERT when it names a flow: one round trip."""
    (answer,) = _queue(session, [request], settings=settings, now=utcnow(), look_up_in_insert=True)
    if isinstance(answer, DagyError):
        raise answer
    return answer


def _queue(
    session: Session,
    requests: Sequence[RunRequest],
    *,
    settings: Settings,
    now: datetime,
    look_up_in_insert: bool = False,
) -> list[RunTriggered | DagyError]:
    """The one way runs are created; see the module's docstring. `look_up_in_insert` (one run): a
    run of a flow looks its version up inside its INSERT instead of before it."""
    targets = _Targets(session, look_up_in_insert=look_up_in_insert)
    prepared: list[Run | DagyError] = []
    lookups: dict[str, VersionLookup] = {}
    for request in requests:
        try:
            run, plan = _prepared_run(session, request, targets, settings=settings, now=now)
        except DagyError as exc:
            prepared.append(exc)
            continue
        prepared.append(run)
        if isinstance(plan.version, VersionLookup):
            lookups[run.id] = plan.version
    prepared = _within_quota(session, requests, prepared, now=now)
    answers = _insert(session, [run for run in prepared if isinstance(run, Run)], lookups)
    _give_back_unused(session, [run for run in prepared if isinstance(run, Run)], answers, now=now)
    record_many(
        session,
        [
            _audit_entry(request.origin, run)
            for request, run in zip(requests, prepared, strict=True)
            if isinstance(run, Run) and answers[run.id] is run
        ],
    )
    return [run if isinstance(run, DagyError) else _triggered(answers[run.id]) for run in prepared]


def _within_quota(
    session: Session, requests: Sequence[RunRequest], prepared: list[Run | DagyError], *, now: datetime
) -> list[Run | DagyError]:
    """`prepared` with the queued runs each org's quota refuses (its last ones) replaced by the
    refusal (`usage/quota.py`): checked and counted in this transaction. A refusal of a schedule's
    or sensor's run is counted as the org's error here; one answered over HTTP, as that answer."""
    queued: dict[str, list[int]] = {}
    for index, run in enumerate(prepared):
        if isinstance(run, Run) and run.status == RunState.QUEUED:
            queued.setdefault(run.org_id, []).append(index)
    checked = list(prepared)
    for org_id, indexes in sorted(queued.items()):  # orgs in one order: batches never deadlock
        admission = quota.admit_runs(session, org_id=org_id, count=len(indexes), now=now)
        refused = indexes[admission.admitted :]
        for index in refused:
            checked[index] = admission.refusal or DagyError("quota")
        background = sum(1 for index in refused if requests[index].origin.trigger not in (MANUAL, API_KEY))
        metering.count_refusals(session, org_id=org_id, refused=background, now=now)
    return checked


def _give_back_unused(
    session: Session, runs: Sequence[Run], answers: dict[str, Run], *, now: datetime
) -> None:
    """Queued runs counted against the quota that another request's run answers (an idempotency
    key taken meanwhile) were not created: their count goes back."""
    unused: dict[str, int] = {}
    for run in runs:
        if run.status == RunState.QUEUED and answers.get(run.id) is not run:
            unused[run.org_id] = unused.get(run.org_id, 0) + 1
    for org_id, count in unused.items():
        quota.give_back(session, org_id=org_id, count=count, now=now)


def _prepared_run(
    session: Session, request: RunRequest, targets: _Targets, *, settings: Settings, now: datetime
) -> tuple[Run, _Plan]:
    """The run `request` asks for, checked and in its first state, not yet inserted; and its plan."""
    origin, data = request.origin, request.data
    if origin.sensor_id is None:
        _check_parameters(data)
    check_executor(data.executor, settings, field="executor")
    plan = _plan(targets, origin.org_id, data, settings.default_executor)
    parameters = data.parameters
    if isinstance(plan.version, VersionToRun):
        parameters = fitted(plan.flow_name, plan.version, data.parameters)
    run = _new_run(origin.org_id, data, plan, parameters=parameters, key=request.key, now=now)
    run.trigger, run.sensor_id, run.sensor_event_id = origin.trigger, origin.sensor_id, origin.sensor_event_id
    run.schedule_id, run.scheduled_for = origin.schedule_id, origin.scheduled_for
    if request.deployment_name is not None:
        run.deployment_name = request.deployment_name
    if origin.schedule_id is not None and origin.scheduled_for is not None:
        # A fire time's run is named by the fire time and its schedule (the random end of its id):
        # scheduler batches, which hold different schedules, never wait on each other's slugs.
        run.run_slug = f"{plain_slug(plan.flow_name, origin.scheduled_for)}-{origin.schedule_id[-6:]}"
    set_run_state(session, run, RunState.QUEUED if data.execute else RunState.PENDING, now=now)
    return run, plan


def _insert(session: Session, runs: Sequence[Run], lookups: dict[str, VersionLookup]) -> dict[str, Run]:
    """Insert `runs`; run id -> the run that answers it: itself, or the run that took its
    idempotency key first (a concurrent request with the same key won the race). A run whose slug
    was taken is inserted again with a suffixed one. A run whose version its INSERT looks up
    (`lookups`) and that was not inserted is looked up by itself: NotFound, or one more try."""
    answers: dict[str, Run] = {}
    pending = list(runs)
    for _ in range(_SLUG_ATTEMPTS):
        if not pending:
            return answers
        inserted = repo.add_runs(session, pending, lookups)
        retry: list[Run] = []
        for run in pending:
            lookup = lookups.pop(run.id, None)
            checked_now = lookup is not None and run.id not in inserted and _resolve(session, run, lookup)
            if lookup is not None and run.status == RunState.QUEUED:
                mark_runs_queued(session, run.executor)  # the version's default executor, maybe
            if checked_now:  # left out for its version's parameter schema, which it fits: as it is
                retry.append(run)
                continue
            recent_slugs.taken(run)
            existing = None
            if run.id not in inserted and run.idempotency_key:
                existing = repo.get_run_by_idempotency_key(session, run.org_id, run.idempotency_key)
            if run.id in inserted or existing is not None:
                answers[run.id] = existing or run
                continue
            run.run_slug = suffixed(plain_slug(run.flow_name, run.created_at))
            retry.append(run)
        pending = retry
    if pending:
        raise Conflict("Could not find a free run slug; try again.")
    return answers


def _resolve(session: Session, run: Run, lookup: VersionLookup) -> bool:
    """Fill in the version of a run whose INSERT inserted nothing (NotFound when there is none).
    True when the INSERT left it out for the version's parameter schema, which the run's
    parameters are now checked against (InvalidInput when they do not fit) and given the defaults
    of."""
    version = _flow_version(session, run.org_id, run.flow_name, lookup.label)
    run.flow_id, run.flow_version_id, run.flow_version = version.flow_id, version.id, version.version
    run.executor = lookup.executor_asked or version.default_executor or lookup.executor_default
    if version.parameter_schema is None or version.id == lookup.checked_version_id:
        return False
    run.parameters = fitted(run.flow_name, version, run.parameters)
    return True


def _check_parameters(data: RunTrigger) -> None:
    if len(json.dumps(data.parameters).encode()) > MAX_PARAMETERS_BYTES:
        raise InvalidInput(
            "Parameters are too large.", details={"parameters": f"at most {MAX_PARAMETERS_BYTES} bytes"}
        )


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


def _run_for_key(session: Session, org_id: str, key: str, now: datetime) -> Run | None:
    """The run `key` answers with, or None once its window has passed (the key is then released, so
    the run this request creates can take it)."""
    existing = repo.get_run_by_idempotency_key(session, org_id, key)
    if existing is None or existing.created_at > now - IDEMPOTENCY_WINDOW:
        return existing
    repo.release_idempotency_key(session, org_id, key, created_before=now - IDEMPOTENCY_WINDOW)
    return None


def _new_run(
    org_id: str, data: RunTrigger, plan: _Plan, *, parameters: dict[str, Any], key: str | None, now: datetime
) -> Run:
    """The run's row, with `parameters` (the request's, with the version's defaults); a version its
    INSERT looks up leaves the version's columns to it."""
    version = plan.version if isinstance(plan.version, VersionToRun) else None
    return Run(
        id=new_id("run"),
        org_id=org_id,
        flow_id=version.flow_id if version else None,
        flow_version_id=version.id if version else None,
        flow_name=plan.flow_name,
        flow_version=version.version if version else None,
        run_slug=recent_slugs.first_try(org_id, plan.flow_name, now),
        deployment_name=plan.deployment_name,
        executor=plan.executor,
        execution_mode=plan.execution_mode,
        priority=data.priority,
        parameters=parameters,
        tags=list(data.tags),
        retry_count=0,
        max_retries=plan.max_retries,
        attempt=0,
        cancel_requested=False,
        idempotency_key=key,
        created_at=now,
        updated_at=now,
    )


@dataclass(frozen=True)
class _Plan:
    flow_name: str
    version: VersionToRun | VersionLookup
    deployment_name: str | None
    executor: str
    execution_mode: str
    max_retries: int


class _Targets:
    """The flow versions and deployments runs are created from, each looked up once per request or
    batch (a scheduler batch names the same few many times). A lookup that failed fails again."""

    def __init__(self, session: Session, *, look_up_in_insert: bool = False) -> None:
        self.session = session
        self.look_up_in_insert = look_up_in_insert
        self._found: dict[tuple[str, ...], VersionToRun | DeploymentRunSettings | DagyError] = {}

    def version(self, org_id: str, data: RunTrigger) -> VersionToRun:
        key = (
            "version",
            org_id,
            str(data.flow_name),
            "" if data.flow_version is None else str(data.flow_version),
        )
        label = None if data.flow_version is None else str(data.flow_version)
        found = self._lookup(key, lambda: _flow_version(self.session, org_id, str(data.flow_name), label))
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
        version = _version_of_flow(targets, org_id, data, default_executor)
        # A version the INSERT looks up: its default executor is known after it.
        default_of_version = version.default_executor if isinstance(version, VersionToRun) else None
        return _Plan(
            flow_name=str(data.flow_name),
            version=version,
            deployment_name=None,
            executor=data.executor or default_of_version or default_executor,
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
            parameter_schema=deployed_version.parameter_schema,
        ),
        deployment_name=deployed.deployment_name,
        executor=data.executor or deployed.executor or default_executor,
        execution_mode=data.execution_mode if "execution_mode" in given else deployed.execution_mode,
        max_retries=data.max_retries if "max_retries" in given else deployed.max_retries,
    )


def _version_of_flow(
    targets: _Targets, org_id: str, data: RunTrigger, default_executor: str
) -> VersionToRun | VersionLookup:
    """The version a run of a flow runs, looked up now; or, for a single run, by its INSERT, checked
    against the version this process last found under the label: parameters that do not fit that
    one (a newer one may take them), or that leave out one of its defaults (the run gets it), have
    the version looked up now."""
    if not targets.look_up_in_insert:
        return targets.version(org_id, data)
    label = None if data.flow_version is None else str(data.flow_version)
    known = known_versions.get(org_id, str(data.flow_name), label)
    if known is not None and (not fits(known, data.parameters) or lacks_defaults(known, data.parameters)):
        return targets.version(org_id, data)
    return VersionLookup(
        label,
        executor_asked=data.executor,
        executor_default=default_executor,
        checked_version_id=known.id if known is not None else None,
    )


def check_run_parameters(
    session: Session, *, org_id: str, data: RunTrigger, later: Collection[str] = (), field: str = "parameters"
) -> None:
    """`data`'s parameters checked against the version it would run now (its deployment's, else its
    flow's named or latest version) as creating the run checks them, for what keeps parameters to
    start runs with later (a schedule, a sensor: `later` names what each run adds, `field` what
    the request calls the parameters). NotFound when there is no such flow, version or deployment."""
    plan = _plan(_Targets(session), org_id, data, default_executor="")
    if isinstance(plan.version, VersionToRun):
        check_fit(plan.flow_name, plan.version, data.parameters, later=later, field=field)


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


def _flow_version(session: Session, org_id: str, name: str, label: str | None) -> VersionToRun:
    version = repo.find_flow_version(session, org_id, name, label)
    if version is not None:
        known_versions.remember(org_id, name, label, version)
        return version
    if not repo.flow_exists(session, org_id, name):
        close = difflib.get_close_matches(name, repo.flow_names(session, org_id), n=3)
        if close:
            hint = f"did you mean {' or '.join(close)}?"
            raise NotFound(f"Flow {name} not found; {hint}", details={"flow_name": hint})
        raise NotFound(f"Flow {name} not found.")
    raise NotFound(f"Flow {name} has no version {label}.")


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
