"""Environments: their settings and variables, their promotion order, comparing two, and promoting
a deployment from one to the next.

An environment is a stage that deployments live in (develop, staging, production). Its
`default_executor` is what runs of its deployments use when the deployment names none. A protected
environment cannot be deleted, and every promotion into one is marked as such in the audit trail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from dagy.server.api.pagination import PageRequest, paginate
from dagy.server.db.base import utcnow
from dagy.server.db.models import Deployment, Environment
from dagy.server.domains.audit_logs.service import REDACTED_CHANGE, Action, diff, record
from dagy.server.domains.deployments import repository as deployments
from dagy.server.domains.deployments import service as deployment_service
from dagy.server.domains.deployments.backends import check_executor
from dagy.server.domains.deployments.schemas import DEPLOYMENT_NAME_PATTERN, DeploymentRead
from dagy.server.domains.environments import repository as repo
from dagy.server.domains.environments.schemas import (
    MAX_VARIABLES_BYTES,
    DiffItem,
    EnvironmentCreate,
    EnvironmentDiff,
    EnvironmentList,
    EnvironmentRead,
    EnvironmentSummary,
    EnvironmentUpdate,
    Promoted,
    Promotion,
    Reorder,
    VariableDeleted,
    Variables,
    VariablesRead,
    VersionDiffers,
    json_size,
)
from dagy.server.errors import Conflict, InvalidInput, NotFound
from dagy.server.identity import Actor
from dagy.server.settings import Settings

RESOURCE = "environment"
_LISTED_DEPLOYMENTS = 20  # deployments named in the 409 of a delete


def create_environment(
    session: Session, *, actor: Actor, data: EnvironmentCreate, settings: Settings
) -> EnvironmentSummary:
    """New environments go last in the promotion order."""
    if repo.get_environment(session, actor.org_id, data.env_name) is not None:
        raise Conflict(f"Environment {data.env_name} already exists.", details={"env_name": "already exists"})
    now = utcnow()
    environment = Environment(
        org_id=actor.org_id,
        name=data.env_name,
        default_executor=check_executor(data.default_executor, settings),
        config_json=dict(data.config_json),
        variables={},
        is_protected=data.is_protected,
        promotion_order=repo.next_promotion_order(session, actor.org_id),
        created_at=now,
        updated_at=now,
    )
    repo.add(session, environment)
    _audit(session, actor, environment, Action.CREATE, diff({}, _state(environment)))
    return _summary(environment)


def list_environments(session: Session, *, actor: Actor, page: PageRequest) -> EnvironmentList:
    """In promotion order, then by name."""
    result = paginate(
        session,
        repo.list_query(actor.org_id),
        order_by=[Environment.promotion_order, Environment.name, Environment.id],
        page=page,
        to_item=_summary,
        descending=False,
    )
    return EnvironmentList(items=result.items, next_token=result.next_token)


def get_environment(session: Session, *, actor: Actor, env_name: str) -> EnvironmentRead:
    return _read(_environment(session, actor.org_id, env_name))


def update_environment(
    session: Session, *, actor: Actor, env_name: str, data: EnvironmentUpdate, settings: Settings
) -> EnvironmentRead:
    """Only the fields given change; none given is a 400."""
    given = data.model_fields_set
    if not given:
        raise InvalidInput(
            "No fields to update.", details={"body": "give default_executor, config_json or is_protected"}
        )
    if "is_protected" in given and data.is_protected is None:
        raise InvalidInput(
            "is_protected must be true or false.", details={"is_protected": "must not be null"}
        )
    environment = _environment(session, actor.org_id, env_name)
    before = _state(environment)
    if "default_executor" in given:
        environment.default_executor = check_executor(data.default_executor, settings)
    if "config_json" in given:
        environment.config_json = dict(data.config_json or {})
    if data.is_protected is not None:
        environment.is_protected = data.is_protected
    _touch(session, environment)
    _audit(session, actor, environment, Action.UPDATE, diff(before, _state(environment)))
    return _read(environment)


def delete_environment(session: Session, *, actor: Actor, env_name: str) -> None:
    """A protected environment, or one that still holds deployments, stays."""
    environment = _environment(session, actor.org_id, env_name)
    if environment.is_protected:
        raise NotFound(
            f"Cannot delete protected environment '{environment.name}'",
            code="protected_environment",
            details={"env_name": "protected; set is_protected to false first"},
        )
    names = deployments.names_in_environment(
        session, actor.org_id, environment.id, limit=_LISTED_DEPLOYMENTS + 1
    )
    if names:
        shown = ", ".join(names[:_LISTED_DEPLOYMENTS]) + (", ..." if len(names) > _LISTED_DEPLOYMENTS else "")
        raise Conflict(
            f"Environment {environment.name} still has deployments: {shown}.",
            details={"deployments": shown},
        )
    before = _state(environment)
    repo.delete(session, environment)
    _audit(session, actor, environment, Action.DELETE, diff(before, {}))


def get_variables(session: Session, *, actor: Actor, env_name: str) -> VariablesRead:
    environment = _environment(session, actor.org_id, env_name)
    return VariablesRead(env_name=environment.name, variables=_variables(environment))


def replace_variables(session: Session, *, actor: Actor, env_name: str, data: Variables) -> VariablesRead:
    environment = _environment(session, actor.org_id, env_name)
    return _set_variables(session, actor, environment, dict(data.variables))


def merge_variables(session: Session, *, actor: Actor, env_name: str, data: Variables) -> VariablesRead:
    """Adds or overwrites the keys given; the 64 KB limit holds for the merged result."""
    environment = _environment(session, actor.org_id, env_name)
    merged = _variables(environment) | dict(data.variables)
    if json_size(merged) > MAX_VARIABLES_BYTES:
        raise InvalidInput(
            "Variables are too large.", details={"variables": f"at most {MAX_VARIABLES_BYTES} bytes in all"}
        )
    return _set_variables(session, actor, environment, merged)


def delete_variable(session: Session, *, actor: Actor, env_name: str, var_key: str) -> VariableDeleted:
    environment = _environment(session, actor.org_id, env_name)
    variables = _variables(environment)
    if var_key not in variables:
        raise NotFound(f"Variable {var_key} not found.", details={"var_key": "no such variable"})
    del variables[var_key]
    _set_variables(session, actor, environment, variables)
    return VariableDeleted(deleted=var_key, env_name=environment.name)


def reorder_environments(session: Session, *, actor: Actor, data: Reorder) -> EnvironmentList:
    """The named environments take positions 0..n-1; any not named follow in their old order."""
    duplicates = sorted({n for n in data.order if data.order.count(n) > 1})
    if duplicates:
        raise InvalidInput(
            "Environments named twice.", details={"order": f"duplicates: {', '.join(duplicates)}"}
        )
    current = repo.list_all(session, actor.org_id)
    by_name = {e.name: e for e in current}
    unknown = [n for n in data.order if n not in by_name]
    if unknown:
        raise InvalidInput(
            f"Unknown environment {unknown[0]}.",
            details={"order": f"no such environment: {', '.join(unknown)}"},
        )
    ordered = [by_name[n] for n in data.order] + [e for e in current if e.name not in set(data.order)]
    for position, environment in enumerate(ordered):
        if environment.promotion_order != position:
            before = environment.promotion_order
            environment.promotion_order = position
            _touch(session, environment)
            _audit(session, actor, environment, Action.UPDATE, {"promotion_order": [before, position]})
    return EnvironmentList(items=[_summary(e) for e in ordered])


def diff_environments(session: Session, *, actor: Actor, env_name: str, target_env: str) -> EnvironmentDiff:
    """Deployments matched by flow name. An environment normally holds one deployment per flow; when
    it holds several, the most recently updated one stands for the flow in `version_differs`."""
    source = _environment(session, actor.org_id, env_name)
    target = _environment(session, actor.org_id, target_env)
    in_source = _by_flow(session, actor.org_id, source)
    in_target = _by_flow(session, actor.org_id, target)
    differs = [
        VersionDiffers(flow_name=flow, source=_diff_item(s[0]), target=_diff_item(in_target[flow][0]))
        for flow, s in sorted(in_source.items())
        if flow in in_target and s[0].flow_version != in_target[flow][0].flow_version
    ]
    return EnvironmentDiff(
        source_environment=source.name,
        target_environment=target.name,
        only_in_source=[
            _diff_item(d) for f, ds in sorted(in_source.items()) if f not in in_target for d in ds
        ],
        only_in_target=[
            _diff_item(d) for f, ds in sorted(in_target.items()) if f not in in_source for d in ds
        ],
        version_differs=differs,
    )


def promote_deployment(session: Session, *, actor: Actor, data: Promotion) -> Promoted:
    """Create (or move) the target environment's deployment to the source's flow and version."""
    source = deployments.get_deployment(session, actor.org_id, data.source_deployment)
    if source is None:
        raise NotFound(
            f"Deployment {data.source_deployment} not found.",
            details={"source_deployment": "no such deployment"},
        )
    environment = repo.get_environment(session, actor.org_id, data.target_environment)
    if environment is None:
        raise NotFound(
            f"Environment {data.target_environment} not found.",
            details={"target_environment": "no such environment"},
        )
    if source.environment_id == environment.id:
        raise InvalidInput(
            "The deployment is already in this environment.",
            details={"target_environment": "must differ from the source deployment's environment"},
        )
    read = deployment_service.read_deployment(session, source)
    version = deployment_service.version_of_flow(
        session, actor.org_id, source.flow_id, str(data.flow_version or read.flow_version)
    )
    name = data.new_deployment_name or _promoted_name(read, environment.name)
    target = deployments.get_deployment(session, actor.org_id, name)
    if target is not None:
        _check_promotion_target(target, source, environment)
    promoted = deployment_service.promote_into(
        session,
        actor=actor,
        source=source,
        target=target,
        name=name,
        environment=environment,
        version=version,
    )
    return Promoted(
        target_deployment=promoted.name,
        deployment_id=promoted.id,
        flow_name=read.flow_name,
        flow_version=version.version,
        target_environment=environment.name,
        source_deployment=source.name,
        source_environment=read.environment,
        promoted_at=promoted.promoted_at or promoted.updated_at,
    )


def _promoted_name(source: DeploymentRead, target_env: str) -> str:
    """`my-flow-staging` → `my-flow-production`; otherwise `<flow>-<target env>`."""
    suffix = f"-{source.environment}" if source.environment else None
    if suffix and source.deployment_name.endswith(suffix):
        name = source.deployment_name.removesuffix(suffix) + f"-{target_env}"
    else:
        name = f"{source.flow_name}-{target_env}"
    if not re.match(DEPLOYMENT_NAME_PATTERN, name):
        raise InvalidInput(
            "The default name of the promoted deployment is too long.",
            details={"new_deployment_name": "required: the default name would exceed 128 characters"},
        )
    return name


def _check_promotion_target(target: Deployment, source: Deployment, environment: Environment) -> None:
    if target.id == source.id:
        raise InvalidInput(
            "The target name is the source deployment.", details={"new_deployment_name": "names the source"}
        )
    if target.environment_id != environment.id or target.flow_id != source.flow_id:
        raise Conflict(
            f"Deployment {target.name} already exists outside {environment.name} or for another flow.",
            details={"new_deployment_name": "taken by another deployment; choose another name"},
        )


def _by_flow(session: Session, org_id: str, environment: Environment) -> dict[str, list[DeploymentRead]]:
    """The environment's deployments by flow name, most recently updated first."""
    reads = deployment_service.read_deployments(
        session, deployments.list_in_environment(session, org_id, environment.id)
    )
    grouped: dict[str, list[DeploymentRead]] = {}
    for read in sorted(reads, key=lambda r: (r.updated_at, r.deployment_name), reverse=True):
        grouped.setdefault(read.flow_name, []).append(read)
    return grouped


def _diff_item(read: DeploymentRead) -> DiffItem:
    return DiffItem(
        deployment_name=read.deployment_name,
        flow_name=read.flow_name,
        flow_version=read.flow_version,
        updated_at=read.updated_at,
    )


def _set_variables(
    session: Session, actor: Actor, environment: Environment, variables: dict[str, str]
) -> VariablesRead:
    """Store the variables; the audit row names the keys that changed, never their values."""
    changes = _variable_changes(_variables(environment), variables)
    environment.variables = variables
    _touch(session, environment)
    if changes:
        _audit(session, actor, environment, Action.UPDATE, changes)
    return VariablesRead(env_name=environment.name, variables=dict(variables))


def _variable_changes(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        if key not in before:
            changes[f"variables.{key}"] = [None, "set"]
        elif key not in after:
            changes[f"variables.{key}"] = ["set", None]
        elif before[key] != after[key]:
            changes[f"variables.{key}"] = REDACTED_CHANGE
    return changes


def _environment(session: Session, org_id: str, name: str) -> Environment:
    environment = repo.get_environment(session, org_id, name)
    if environment is None:
        raise NotFound(f"Environment {name} not found.")
    return environment


def _variables(environment: Environment) -> dict[str, str]:
    return {str(k): str(v) for k, v in (environment.variables or {}).items()}


def _touch(session: Session, environment: Environment) -> None:
    environment.updated_at = utcnow()
    session.flush()


def _state(environment: Environment) -> dict[str, Any]:
    return {
        "env_name": environment.name,
        "default_executor": environment.default_executor,
        "config_json": environment.config_json,
        "is_protected": environment.is_protected,
        "promotion_order": environment.promotion_order,
    }


def _audit(
    session: Session, actor: Actor, environment: Environment, action: Action, changes: Mapping[str, Any]
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        resource_type=RESOURCE,
        resource_id=environment.id,
        resource_name=environment.name,
        changes=changes,
    )


def _summary(environment: Environment) -> EnvironmentSummary:
    return EnvironmentSummary(
        env_id=environment.id,
        env_name=environment.name,
        default_executor=environment.default_executor,
        is_protected=environment.is_protected,
        promotion_order=environment.promotion_order,
        created_at=environment.created_at,
        updated_at=environment.updated_at,
    )


def _read(environment: Environment) -> EnvironmentRead:
    return EnvironmentRead(
        **_summary(environment).model_dump(), config_json=dict(environment.config_json or {})
    )
