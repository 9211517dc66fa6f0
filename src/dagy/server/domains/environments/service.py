"""Environments: their settings and variables, their promotion order, and the lookups deployments
and schedules make by an environment's name (comparing two and promoting: `promotion.py`).

An environment is a stage that deployments live in (develop, staging, production). Its
`default_executor` is what runs of its deployments use when the deployment names none. A protected
environment cannot be deleted, and every promotion into one is marked as such in the audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, ListRow, PageRequest
from dagy.server.db.base import utcnow
from dagy.server.db.models import Environment
from dagy.server.domains.audit_logs.service import REDACTED_CHANGE, Action, diff, record
from dagy.server.domains.deployments.backends import check_executor
from dagy.server.domains.environments import repository as repo
from dagy.server.domains.environments.schemas import (
    MAX_VARIABLES_BYTES,
    EnvironmentCreate,
    EnvironmentList,
    EnvironmentRead,
    EnvironmentSummary,
    EnvironmentUpdate,
    Reorder,
    VariableDeleted,
    Variables,
    VariablesRead,
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


def list_environments(
    connection: Connection, *, actor: Actor, page: PageRequest
) -> KeysetPage[dict[str, Any]]:
    """In promotion order, then by name. Read path (docs/adr/0007-list-read-path.md): the items are
    `EnvironmentSummary`'s fields as plain values, rendered once by the router."""
    return repo.list_page(connection, actor.org_id, page, to_item=_list_item)


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
    names = repo.deployment_names(session, actor.org_id, environment.id, limit=_LISTED_DEPLOYMENTS + 1)
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


def find_environment(session: Session, *, org_id: str, name: str) -> Environment | None:
    """The org's environment of this name, or None (the caller says which field named it)."""
    return repo.get_environment(session, org_id, name)


def environment_named(session: Session, *, org_id: str, name: str) -> Environment:
    """The environment another domain's request names in its `environment` field (a deployment's,
    a schedule's): 404 naming that field when the org has none of that name."""
    environment = repo.get_environment(session, org_id, name)
    if environment is None:
        raise NotFound(f"Environment {name} not found.", details={"environment": "no such environment"})
    return environment


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


def _list_item(row: ListRow) -> dict[str, Any]:
    """An `EnvironmentSummary`'s fields from a `repo.LIST_PAGES` row."""
    env_id, env_name, default_executor, is_protected, promotion_order, created_at, updated_at = row
    return {
        "env_id": env_id,
        "env_name": env_name,
        "default_executor": default_executor,
        "is_protected": is_protected,
        "promotion_order": promotion_order,
        "created_at": created_at,
        "updated_at": updated_at,
    }


def _read(environment: Environment) -> EnvironmentRead:
    return EnvironmentRead(
        **_summary(environment).model_dump(), config_json=dict(environment.config_json or {})
    )
