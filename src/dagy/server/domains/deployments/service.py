"""Deployments: a flow version placed under a name, its runtime settings, rollbacks and removal.

A deployment names one version of one flow; runs triggered by the deployment run that version
with the deployment's executor, execution mode and retries. Moving a deployment to another version
(PATCH, rollback, promotion, `POST /flows` with `deployment_name`) never touches its settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, PageRequest
from dagy.server.db.base import utcnow
from dagy.server.db.models import Deployment, Environment, Flow, FlowVersion
from dagy.server.domains.audit_logs.service import Action, diff, record
from dagy.server.domains.deployments import repository as repo
from dagy.server.domains.deployments.backends import (
    EXECUTION_MODE_TIMEOUTS,
    MAX_TIMEOUT_SECONDS,
    check_executor,
    installation_backends,
)
from dagy.server.domains.deployments.schedule import check_schedule
from dagy.server.domains.deployments.schemas import (
    BackendRead,
    DeploymentCreate,
    DeploymentDeleted,
    DeploymentRead,
    DeploymentRollback,
    DeploymentRolledBack,
    DeploymentSettings,
    DeploymentVersionChange,
)
from dagy.server.domains.environments import service as environments
from dagy.server.domains.flows import service as flows
from dagy.server.domains.schedules.deployment_sync import sync_deployment_schedule
from dagy.server.domains.workers import service as workers
from dagy.server.errors import Conflict, InvalidInput, NotFound
from dagy.server.identity import Actor
from dagy.server.settings import Settings

RESOURCE = "deployment"
SETTINGS_FIELDS = (
    "schedule",
    "default_executor",
    "execution_mode",
    "tags",
    "dep_package_slugs",
    "max_retries",
)
_DEFAULTS: dict[str, Any] = {
    "schedule": None,
    "default_executor": None,
    "execution_mode": "nano",
    "tags": {},
    "dep_package_slugs": [],
    "max_retries": 0,
}
_AUDITED = {
    "flow_name",
    "flow_version",
    "environment",
    "status",
    "promoted_from_env",
    "promoted_from_deployment",
    *SETTINGS_FIELDS,
}


@dataclass(frozen=True)
class SavedDeployment:
    deployment: DeploymentRead
    created: bool


@dataclass(frozen=True)
class DeploymentRunSettings:
    """What a run of a deployment inherits. `executor` is the deployment's, else its environment's,
    else None (the caller falls back to the installation default)."""

    deployment_name: str
    flow_name: str
    version: FlowVersion
    executor: str | None
    execution_mode: str
    max_retries: int


def deploy_flow_version(
    session: Session,
    *,
    actor: Actor,
    deployment_name: str,
    flow: Flow,
    version: FlowVersion,
    settings: Settings,
    schedule: str | None = None,
    default_executor: str | None = None,
) -> Deployment:
    """Create the deployment on `version`, or move the existing one to it (`POST /flows` with a
    `deployment_name`). `schedule` and `default_executor` replace the deployment's when given."""
    deployment, before = _place(session, actor.org_id, deployment_name, flow, version)
    given = {"schedule": schedule, "default_executor": default_executor}
    _apply_settings(deployment, {k: v for k, v in given.items() if v is not None}, settings)
    _save(session, actor, deployment, before)
    return deployment


def save_deployment(
    session: Session, *, actor: Actor, data: DeploymentCreate, settings: Settings
) -> SavedDeployment:
    """`POST /deployments`: create, or update the deployment of this name (fields given replace)."""
    flow, version = _flow_and_version(session, actor.org_id, data.flow_name, _label(data.flow_version))
    environment = (
        environments.environment_named(session, org_id=actor.org_id, name=data.environment)
        if data.environment
        else None
    )
    deployment, before = _place(session, actor.org_id, data.name, flow, version)
    if "environment" in data.model_fields_set:
        deployment.environment_id = environment.id if environment else None
    given = {f: getattr(data, f) for f in SETTINGS_FIELDS if f in data.model_fields_set}
    _apply_settings(deployment, given, settings)
    _save(session, actor, deployment, before)
    return SavedDeployment(deployment=read_deployment(session, deployment), created=before is None)


def list_deployments(
    connection: Connection, *, actor: Actor, environment: str | None, page: PageRequest
) -> KeysetPage[dict[str, Any]]:
    """By name; `environment` narrows to one environment (an unknown one holds nothing).

    Read path (docs/adr/0007-list-read-path.md): the items are `DeploymentRead`'s fields as plain
    values, rendered once by the router."""
    return repo.list_page(connection, actor.org_id, page, environment=environment, to_item=_list_item)


def get_deployment(session: Session, *, actor: Actor, deployment_name: str) -> DeploymentRead:
    return read_deployment(session, _deployment(session, actor.org_id, deployment_name))


def change_flow_version(
    session: Session, *, actor: Actor, deployment_name: str, data: DeploymentVersionChange
) -> DeploymentRead:
    """`PATCH /deployments/{name}`: the active version, forwards or backwards; settings stay."""
    deployment = _deployment(session, actor.org_id, deployment_name)
    version = _version_of(session, deployment, str(data.flow_version))
    before = _audit_state(session, deployment)
    deployment.flow_version_id = version.id
    _save(session, actor, deployment, before)
    return read_deployment(session, deployment)


def update_deployment_settings(
    session: Session, *, actor: Actor, deployment_name: str, data: DeploymentSettings, settings: Settings
) -> DeploymentRead:
    """`PUT /deployments/{name}/settings`: only the fields given change; none given is a 400."""
    given = [f for f in SETTINGS_FIELDS if f in data.model_fields_set]
    if not given:
        raise InvalidInput(
            "No settings fields provided.",
            details={"body": f"give at least one of {', '.join(SETTINGS_FIELDS)}"},
        )
    deployment = _deployment(session, actor.org_id, deployment_name)
    before = _audit_state(session, deployment)
    _apply_settings(deployment, {f: getattr(data, f) for f in given}, settings)
    _save(session, actor, deployment, before)
    return read_deployment(session, deployment)


def rollback_deployment(
    session: Session, *, actor: Actor, deployment_name: str, data: DeploymentRollback
) -> DeploymentRolledBack:
    """Back to an earlier version of the same flow; a later one is a 400 (move forward with PATCH)."""
    deployment = _deployment(session, actor.org_id, deployment_name)
    current = _current_version(session, deployment)
    target = _version_of(session, deployment, str(data.target_flow_version))
    if target.deployment_version >= current.deployment_version:
        raise InvalidInput(
            "A rollback goes to an earlier version.",
            details={"target_flow_version": f"must be older than the current version {current.version}"},
        )
    before = _audit_state(session, deployment)
    deployment.flow_version_id = target.id
    _save(session, actor, deployment, before, note={"rollback": [current.version, target.version]})
    return DeploymentRolledBack(
        deployment_name=deployment.name,
        previous_flow_version=current.version,
        new_flow_version=target.version,
        rolled_back_at=deployment.updated_at,
    )


def delete_deployment(session: Session, *, actor: Actor, deployment_name: str) -> DeploymentDeleted:
    deployment = _deployment(session, actor.org_id, deployment_name)
    before = _audit_state(session, deployment)
    repo.delete(session, deployment)
    record(
        session,
        actor=actor,
        action=Action.DELETE,
        resource_type=RESOURCE,
        resource_id=deployment.id,
        resource_name=deployment.name,
        changes=diff(before, {}),
    )
    return DeploymentDeleted(status="deleted", deployment_name=deployment.name)


def run_settings(session: Session, *, org_id: str, deployment_name: str) -> DeploymentRunSettings:
    """For `POST /runs` with `deployment`: the version to run and the settings the run inherits."""
    deployment = _deployment(session, org_id, deployment_name)
    read = read_deployment(session, deployment)
    executor = deployment.default_executor
    if executor is None and deployment.environment_id is not None:
        executor = repo.environments_by_id(session, org_id, [deployment.environment_id])[
            deployment.environment_id
        ].default_executor
    return DeploymentRunSettings(
        deployment_name=deployment.name,
        flow_name=read.flow_name,
        version=_current_version(session, deployment),
        executor=executor,
        execution_mode=deployment.execution_mode,
        max_retries=deployment.max_retries,
    )


def list_backends(session: Session, *, actor: Actor, settings: Settings) -> list[BackendRead]:
    """The executors a deployment or run may name on this installation, with the workers that
    serve each for the caller's org now."""
    online = workers.online_by_executor(session, actor.org_id)
    backends = []
    for b in installation_backends(settings):
        count, concurrency = online.get(b.name, (0, 0))
        backends.append(
            BackendRead(
                name=b.name,
                description=b.description,
                capabilities=list(b.capabilities),
                max_concurrent_runs=settings.worker_concurrency if b.embedded else concurrency,
                available=count > 0,
                workers=count,
                launcher=b.launcher,
                max_timeout_seconds=MAX_TIMEOUT_SECONDS,
                execution_modes=dict(EXECUTION_MODE_TIMEOUTS),
            )
        )
    return backends


def promote_into(
    session: Session,
    *,
    actor: Actor,
    source: Deployment,
    target: Deployment | None,
    name: str,
    environment: Environment,
    version: FlowVersion,
) -> Deployment:
    """Place `version` in `environment` under `name`: a new deployment copying the source's
    settings as stored, or `target` moved to the version (its own settings stay). Records where it
    came from. Copied settings are not checked again: nothing new is chosen, and a promotion is no
    place to learn that the source names a worker pool the installation no longer lists."""
    source_environment = _environment_name(session, source)
    before = None
    if target is None:
        target = _new(actor.org_id, name, version)
        _copy_settings(source, target)
    else:
        before = _audit_state(session, target)
    target.flow_version_id = version.id
    target.environment_id = environment.id
    target.promoted_from_env = source_environment
    target.promoted_from_deployment = source.name
    target.promoted_at = utcnow()
    note: dict[str, Any] = {"promotion": [source_environment, environment.name]}
    if environment.is_protected:
        note["promoted_into_protected_environment"] = [None, environment.name]
    _save(session, actor, target, before, note=note)
    return target


def read_deployment(session: Session, deployment: Deployment) -> DeploymentRead:
    return read_deployments(session, [deployment])[0]


def read_deployments(session: Session, deployments: Sequence[Deployment]) -> list[DeploymentRead]:
    """Responses for a page of deployments: their flows, versions and environments in three queries."""
    if not deployments:
        return []
    org_id = deployments[0].org_id
    flow_rows = repo.flows_by_id(session, org_id, {d.flow_id for d in deployments})
    versions = repo.versions_by_id(session, org_id, {d.flow_version_id for d in deployments})
    envs = repo.environments_by_id(
        session, org_id, {d.environment_id for d in deployments if d.environment_id}
    )
    return [
        _read(d, flow_rows[d.flow_id], versions[d.flow_version_id], envs.get(d.environment_id or ""))
        for d in deployments
    ]


def find_deployment(session: Session, *, org_id: str, name: str) -> Deployment | None:
    """The org's deployment of this name, or None (the caller says which field named it)."""
    return repo.get_deployment(session, org_id, name)


def read_deployments_in_environment(
    session: Session, *, org_id: str, environment_id: str
) -> list[DeploymentRead]:
    """Every deployment in the environment, by name: four queries whatever their number."""
    return read_deployments(session, repo.list_in_environment(session, org_id, environment_id))


def _read(d: Deployment, flow: Flow, version: FlowVersion, environment: Environment | None) -> DeploymentRead:
    return _response(d, flow.name, version.version, environment.name if environment else None)


def _list_item(row: Row[Any]) -> dict[str, Any]:
    """A list page's row (`repo.list_page`): the names it joins in sit beside the deployment's columns."""
    return _fields(row, row.flow_name, row.flow_version, row.environment)


def _response(
    d: Deployment | Row[Any], flow_name: str, flow_version: str, environment: str | None
) -> DeploymentRead:
    return DeploymentRead(**_fields(d, flow_name, flow_version, environment))


def _fields(
    d: Deployment | Row[Any], flow_name: str, flow_version: str, environment: str | None
) -> dict[str, Any]:
    """`DeploymentRead`'s fields; `d`: a deployment, or a row carrying its columns under the same names."""
    return {
        "deployment_id": d.id,
        "deployment_name": d.name,
        "name": d.name,
        "flow_name": flow_name,
        "flow_version": flow_version,
        "environment": environment,
        "schedule": d.schedule,
        "default_executor": d.default_executor,
        "execution_mode": d.execution_mode,
        "tags": {str(k): str(v) for k, v in (d.tags or {}).items()},
        "dep_package_slugs": [str(s) for s in d.dep_package_slugs or []],
        "max_retries": d.max_retries,
        "status": d.status,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "promoted_from_env": d.promoted_from_env,
        "promoted_from_deployment": d.promoted_from_deployment,
        "promoted_at": d.promoted_at,
    }


def _place(
    session: Session, org_id: str, name: str, flow: Flow, version: FlowVersion
) -> tuple[Deployment, dict[str, Any] | None]:
    """The deployment of this name on `version`: a new one (state before: None) or the existing one
    moved there, which must deploy the same flow."""
    deployment = repo.get_deployment(session, org_id, name)
    if deployment is None:
        return _new(org_id, name, version), None
    _check_same_flow(deployment, flow)
    before = _audit_state(session, deployment)
    deployment.flow_version_id = version.id
    return deployment, before


def _new(org_id: str, name: str, version: FlowVersion) -> Deployment:
    now = utcnow()
    deployment = Deployment(
        org_id=org_id, name=name, flow_id=version.flow_id, flow_version_id=version.id, status="active"
    )
    for field, default in _DEFAULTS.items():
        setattr(deployment, field, default.copy() if isinstance(default, dict | list) else default)
    deployment.created_at = now
    return deployment


def _apply_settings(deployment: Deployment, values: Mapping[str, Any], settings: Settings) -> None:
    """Validated assignment of runtime settings; `None` (POST's null) restores the default."""
    for field, given in values.items():
        value = _DEFAULTS[field] if given is None else given
        if field == "schedule":
            value = check_schedule(value)
        elif field == "default_executor":
            value = check_executor(value, settings)
        elif isinstance(value, dict | list):
            value = value.copy()
        setattr(deployment, field, value)


def _copy_settings(source: Deployment, target: Deployment) -> None:
    for field in SETTINGS_FIELDS:
        value = getattr(source, field)
        setattr(target, field, value.copy() if isinstance(value, dict | list) else value)


def _save(
    session: Session,
    actor: Actor,
    deployment: Deployment,
    before: dict[str, Any] | None,
    *,
    note: Mapping[str, Any] | None = None,
) -> None:
    """Write the deployment and its audit row; `before is None` means it is new."""
    deployment.updated_at = utcnow()
    if before is None:
        repo.add(session, deployment)
    else:
        session.flush()
    sync_deployment_schedule(session, actor=actor, deployment=deployment)
    changes = diff(before or {}, _audit_state(session, deployment)) | dict(note or {})
    record(
        session,
        actor=actor,
        action=Action.CREATE if before is None else Action.UPDATE,
        resource_type=RESOURCE,
        resource_id=deployment.id,
        resource_name=deployment.name,
        changes=changes,
    )


def _audit_state(session: Session, deployment: Deployment) -> dict[str, Any]:
    return read_deployment(session, deployment).model_dump(mode="json", include=_AUDITED)


def _deployment(session: Session, org_id: str, name: str) -> Deployment:
    deployment = repo.get_deployment(session, org_id, name)
    if deployment is None:
        raise NotFound(f"Deployment {name} not found.")
    return deployment


def _environment_name(session: Session, deployment: Deployment) -> str | None:
    if deployment.environment_id is None:
        return None
    found = repo.environments_by_id(session, deployment.org_id, [deployment.environment_id])
    return found[deployment.environment_id].name


def _flow_and_version(
    session: Session, org_id: str, flow_name: str, label: str | None
) -> tuple[Flow, FlowVersion]:
    flow = flows.flow_named(session, org_id=org_id, flow_name=flow_name)
    return flow, flows.labelled_version(session, flow=flow, label=label)


def _version_of(session: Session, deployment: Deployment, label: str) -> FlowVersion:
    return flows.version_for_deployment(
        session, org_id=deployment.org_id, flow_id=deployment.flow_id, label=label
    )


def _current_version(session: Session, deployment: Deployment) -> FlowVersion:
    return repo.versions_by_id(session, deployment.org_id, [deployment.flow_version_id])[
        deployment.flow_version_id
    ]


def _check_same_flow(deployment: Deployment, flow: Flow) -> None:
    if deployment.flow_id != flow.id:
        raise Conflict(
            f"Deployment {deployment.name} deploys another flow.",
            details={"name": "this deployment belongs to another flow; delete it or choose another name"},
        )


def _label(value: str | int | None) -> str | None:
    return None if value is None else str(value)
