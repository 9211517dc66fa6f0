"""Registering a flow version: checked as a whole, numbered, made the flow's latest and, with
`deployment_name`, deployed.

Registration sits above both the flows and the deployments services: a deployment is placed
through `deployments.service`, which itself reads flows through `flows.service`.
"""

from __future__ import annotations

import hashlib
import re
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from dagy.secrets import referenced_names
from dagy.server.db.base import utcnow
from dagy.server.db.models import Flow, FlowVersion
from dagy.server.domains.audit_logs.service import Action, diff, record
from dagy.server.domains.deployments.backends import check_executor
from dagy.server.domains.deployments.schedule import check_schedule
from dagy.server.domains.deployments.service import deploy_flow_version
from dagy.server.domains.flows import repository as repo
from dagy.server.domains.flows.artifacts import read_stored_artifact
from dagy.server.domains.flows.parameter_spec import declared_schema, declared_schema_problems
from dagy.server.domains.flows.parameters import function_parameter_schema
from dagy.server.domains.flows.schemas import FLOW_NAME_PATTERN, FlowCreate, FlowCreated
from dagy.server.domains.flows.service import OBJECTS_DIR, RESOURCE, artifact_prefix
from dagy.server.domains.flows.spec import code_hash, registration_problems
from dagy.server.domains.secrets import service as secrets
from dagy.server.errors import Conflict, InvalidInput
from dagy.server.identity import Actor
from dagy.server.settings import Settings


def register_flow_version(
    session: Session, *, actor: Actor, data: FlowCreate, settings: Settings, artifact_hash: str | None = None
) -> FlowCreated:
    """Validate everything (all problems at once), create the flow on its first version, store the
    version, make it the flow's latest and, with `deployment_name`, deploy it. `artifact_hash`: the
    SHA-256 of the artifact's bytes, when the server computed it (artifact uploads), is the
    version's `code_hash`."""
    name, parameter_schema = _checked_name(session, actor.org_id, data, settings)
    flow = repo.get_flow(session, actor.org_id, name, for_update=True)
    created = flow is None
    if flow is None:
        flow = repo.add_flow(session, Flow(org_id=actor.org_id, name=name, tags={}))
    before = _labels(flow)
    version = _add_version(session, actor.org_id, flow, data, settings, parameter_schema=parameter_schema)
    if artifact_hash is not None:
        version.code_hash = artifact_hash
    _make_latest(flow, version, data)
    if data.deployment_name is not None:
        deploy_flow_version(
            session,
            actor=actor,
            deployment_name=data.deployment_name,
            flow=flow,
            version=version,
            settings=settings,
            schedule=version.schedule,
            default_executor=version.default_executor,
        )
    record(
        session,
        actor=actor,
        action=Action.CREATE if created else Action.UPDATE,
        resource_type=RESOURCE,
        resource_id=flow.id,
        resource_name=flow.name,
        changes=diff(before, _labels(flow)) | {"code_hash": [None, version.code_hash]},
    )
    return FlowCreated(
        flow_name=flow.name,
        flow_version=version.version,
        namespace=flow.namespace,
        tags=dict(flow.tags or {}),
        created_at=version.created_at,
        status=version.status,
        warnings=_missing_secrets(session, actor.org_id, data),
    )


def _missing_secrets(session: Session, org_id: str, data: FlowCreate) -> list[str]:
    """A secret the spec needs that the org does not have (yet) is not an error: it may be created
    after the flow. It is said now rather than when the first run fails."""
    names = referenced_names([data.flow_spec]) if data.flow_spec is not None else []
    return [
        f"secret {name!r} does not exist in this org yet: runs fail with secret_not_found until it is created"
        for name in secrets.missing_names(session, org_id=org_id, names=names)
    ]


def _checked_name(
    session: Session, org_id: str, data: FlowCreate, settings: Settings
) -> tuple[str, dict[str, Any] | None]:
    """The name comes from `flow_name` or, failing that, the spec's `name`; every problem with the
    spec and the artifact reference is reported with it. With the name, the version's parameter
    schema: the one its spec declares (`flow_spec.parameters`), else a code flow's read from its
    entry function when its artifact is in the object store, else None."""
    problems: dict[str, str] = {}
    parameter_schema = declared_schema(data.flow_spec)
    name = data.flow_name
    spec_name = (data.flow_spec or {}).get("name")
    if name is None:
        if spec_name is None:
            problems["flow_name"] = "required (or give flow_spec.name)"
        elif not isinstance(spec_name, str) or not re.match(FLOW_NAME_PATTERN, spec_name):
            problems["flow_spec.name"] = "1-128 letters, digits or . _ - starting with a letter or digit"
        else:
            name = spec_name
    if data.flow_spec is not None:
        problems |= registration_problems(
            session,
            org_id=org_id,
            spec=data.flow_spec,
            artifact_s3_uri=data.artifact_s3_uri,
            max_bytes=settings.max_flow_spec_bytes,
        )
        problems |= declared_schema_problems(data.flow_spec)
    uri = data.artifact_s3_uri
    if name is not None and uri is not None and not uri.startswith("s3://"):
        prefix = artifact_prefix(org_id, name)
        if not uri.startswith(prefix):
            problems["artifact_s3_uri"] = f"a key in the object store must start with {prefix}"
        elif not problems:
            stored = read_stored_artifact(settings.home / OBJECTS_DIR, uri, data.flow_spec)
            problems |= stored.problems
            if stored.entry_function is not None and parameter_schema is None:
                parameter_schema = function_parameter_schema(stored.entry_function)
    problems |= _runtime_problems(data, settings)
    if problems or name is None:
        raise InvalidInput("Invalid flow specification.", details=problems)
    return name, parameter_schema


def _runtime_problems(data: FlowCreate, settings: Settings) -> dict[str, str]:
    """Schedule and executor are checked as a deployment checks them: a version that names an
    executor nobody serves, or a schedule nothing can fire, is refused when it is registered."""
    problems: dict[str, str] = {}
    checks = (
        partial(check_schedule, data.schedule),
        partial(check_executor, data.default_executor, settings),
    )
    for check in checks:
        try:
            check()
        except InvalidInput as exc:
            problems |= {k: str(v) for k, v in exc.details.items()}
    return problems


def _add_version(
    session: Session,
    org_id: str,
    flow: Flow,
    data: FlowCreate,
    settings: Settings,
    *,
    parameter_schema: dict[str, Any] | None,
) -> FlowVersion:
    deployment_version = repo.max_deployment_version(session, org_id, flow.id) + 1
    given = data.flow_version  # its validator made a string of an integer
    label = str(given) if given else _next_free_label(session, org_id, flow.id, deployment_version)
    if repo.get_version(session, org_id, flow.id, label) is not None:
        raise Conflict(
            f"Flow {flow.name} already has a version {label}.", details={"flow_version": "already exists"}
        )
    version = FlowVersion(
        org_id=org_id,
        flow_id=flow.id,
        version=label,
        deployment_version=deployment_version,
        flow_spec=data.flow_spec,
        artifact_s3_uri=data.artifact_s3_uri,
        code_hash=_code_hash(data),
        status=data.status,
        default_executor=check_executor(data.default_executor, settings),
        schedule=check_schedule(data.schedule),
        parameter_schema=parameter_schema,
    )
    repo.add(session, version)
    return version


def _code_hash(data: FlowCreate) -> str:
    """The spec's hash; a code flow without a spec is identified by its artifact reference."""
    if data.flow_spec is not None:
        return code_hash(data.flow_spec)
    return hashlib.sha256(str(data.artifact_s3_uri).encode()).hexdigest()


def _make_latest(flow: Flow, version: FlowVersion, data: FlowCreate) -> None:
    """The newest version's label, status, namespace and tags are the flow's. A version that names
    no namespace or tags keeps the flow's."""
    flow.latest_version = version.version
    flow.status = version.status
    if data.namespace is not None:
        flow.namespace = data.namespace
    if data.tags is not None:
        flow.tags = dict(data.tags)
    flow.updated_at = utcnow()


def _labels(flow: Flow) -> dict[str, Any]:
    return {
        "flow_version": flow.latest_version,
        "status": flow.status,
        "namespace": flow.namespace,
        "tags": dict(flow.tags or {}),
    }


def _next_free_label(session: Session, org_id: str, flow_id: str, start: int) -> str:
    """The next integer label; skips labels someone already chose by hand."""
    number = start
    while repo.get_version(session, org_id, flow_id, str(number)) is not None:
        number += 1
    return str(number)
