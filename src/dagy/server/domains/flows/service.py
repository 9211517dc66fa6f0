"""Registering flow versions and reading them back."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from dagy.server.db.base import utcnow
from dagy.server.db.models import Flow, FlowVersion
from dagy.server.domains.audit_logs.service import Action, record
from dagy.server.domains.flows import repository as repo
from dagy.server.domains.flows.schemas import FLOW_NAME_PATTERN, FlowCreate, FlowCreated, FlowVersionRead
from dagy.server.domains.flows.spec import code_hash, flow_spec_problems
from dagy.server.errors import Conflict, InvalidInput, NotFound
from dagy.server.identity import Actor


def register_flow_version(session: Session, *, actor: Actor, data: FlowCreate) -> FlowCreated:
    """Validate the spec (all problems at once), create the flow on its first version, store the version."""
    name = _flow_name(data)
    flow = repo.get_flow(session, actor.org_id, name)
    if flow is None:
        flow = Flow(org_id=actor.org_id, name=name, namespace=data.namespace, tags=dict(data.tags or {}))
        repo.add(session, flow)
    else:
        _update_flow_labels(flow, data)
    deployment_version = repo.max_deployment_version(session, actor.org_id, flow.id) + 1
    version = data.flow_version or _next_free_label(session, actor.org_id, flow.id, deployment_version)
    if repo.get_version(session, actor.org_id, flow.id, version) is not None:
        raise Conflict(
            f"Flow {name} already has a version {version}.", details={"flow_version": "already exists"}
        )
    flow_version = FlowVersion(
        org_id=actor.org_id,
        flow_id=flow.id,
        version=version,
        deployment_version=deployment_version,
        flow_spec=data.flow_spec,
        artifact_s3_uri=data.artifact_s3_uri,
        code_hash=code_hash(data.flow_spec),
        status=data.status,
        default_executor=data.default_executor,
        schedule=data.schedule,
    )
    repo.add(session, flow_version)
    record(
        session,
        actor=actor,
        action=Action.CREATE,
        resource_type="flow",
        resource_id=flow_version.id,
        resource_name=f"{name}:{version}",
        changes={"flow_version": [None, version], "code_hash": [None, flow_version.code_hash]},
    )
    return FlowCreated(
        flow_name=flow.name,
        flow_version=version,
        namespace=flow.namespace,
        tags=dict(flow.tags or {}),
        created_at=flow_version.created_at,
        status=flow_version.status,
    )


def get_latest_flow_version(session: Session, *, actor: Actor, flow_name: str) -> FlowVersionRead:
    flow = repo.get_flow(session, actor.org_id, flow_name)
    latest = repo.get_latest_version(session, actor.org_id, flow.id) if flow else None
    if flow is None or latest is None:
        raise NotFound("Flow not found.")
    return FlowVersionRead(
        flow_name=flow.name,
        flow_version=latest.version,
        artifact_s3_uri=latest.artifact_s3_uri,
        created_at=latest.created_at,
        updated_at=latest.updated_at,
        schedule=latest.schedule,
        status=latest.status,
        default_executor=latest.default_executor,
        tags=dict(flow.tags or {}),
        namespace=flow.namespace,
        deployment_version=latest.deployment_version,
        code_hash=latest.code_hash,
        flow_spec=latest.flow_spec,
    )


def _flow_name(data: FlowCreate) -> str:
    """The name comes from `flow_name` or, failing that, the spec's `name`; spec problems join in."""
    problems: dict[str, str] = {}
    name = data.flow_name
    if name is None:
        spec_name = data.flow_spec.get("name")
        if spec_name is None:
            problems["flow_name"] = "required (or give flow_spec.name)"
        elif not isinstance(spec_name, str) or not re.match(FLOW_NAME_PATTERN, spec_name):
            problems["flow_spec.name"] = "1-128 letters, digits or . _ - starting with a letter or digit"
        else:
            name = spec_name
    problems |= flow_spec_problems(data.flow_spec)
    if problems or name is None:
        raise InvalidInput("Invalid flow specification.", details=problems)
    return name


def _update_flow_labels(flow: Flow, data: FlowCreate) -> None:
    """Namespace and tags belong to the flow; a new version that names them updates them."""
    if data.namespace is not None:
        flow.namespace = data.namespace
    if data.tags is not None:
        flow.tags = dict(data.tags)
    flow.updated_at = utcnow()


def _next_free_label(session: Session, org_id: str, flow_id: str, start: int) -> str:
    """The next integer label; skips labels someone already chose by hand."""
    number = start
    while repo.get_version(session, org_id, flow_id, str(number)) is not None:
        number += 1
    return str(number)
