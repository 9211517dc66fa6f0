"""Registering flow versions, reading flows and their versions, deleting a flow with all it owns.

Which version is *active* (docs/flows.md): a version that a deployment places; when the flow has
no deployment, its latest version. A version registered as `inactive` or `draft` keeps that status.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row, event
from sqlalchemy.orm import Session

from dagy.runtime.objects import run_objects_prefix
from dagy.server.api.pagination import Page, PageRequest, paginate
from dagy.server.db.base import utcnow
from dagy.server.db.models import Deployment, Flow, FlowVersion
from dagy.server.domains.audit_logs.service import Action, diff, record
from dagy.server.domains.deployments.backends import check_executor
from dagy.server.domains.deployments.schedule import check_schedule
from dagy.server.domains.deployments.service import deploy_flow_version
from dagy.server.domains.flows import repository as repo
from dagy.server.domains.flows.schemas import (
    FLOW_NAME_PATTERN,
    FlowCreate,
    FlowCreated,
    FlowDeleted,
    FlowVersionItem,
    FlowVersionList,
    FlowVersionRead,
)
from dagy.server.domains.flows.spec import code_hash, registration_problems
from dagy.server.errors import Conflict, InvalidInput, NotFound
from dagy.server.identity import Actor
from dagy.server.settings import Settings

RESOURCE = "flow"
ARTIFACTS_ROOT = "dagy/flows"
OBJECTS_DIR = "objects"


def artifact_prefix(org_id: str, flow_name: str) -> str:
    """Where a flow's artifacts live in the object store: deleting the flow deletes this prefix."""
    return f"{ARTIFACTS_ROOT}/{org_id}/{flow_name}/"


def register_flow_version(
    session: Session, *, actor: Actor, data: FlowCreate, settings: Settings
) -> FlowCreated:
    """Validate everything (all problems at once), create the flow on its first version, store the
    version, make it the flow's latest and, with `deployment_name`, deploy it."""
    name = _checked_name(session, actor.org_id, data, settings)
    flow = repo.get_flow(session, actor.org_id, name, for_update=True)
    created = flow is None
    if flow is None:
        flow = repo.add_flow(session, Flow(org_id=actor.org_id, name=name, tags={}))
    before = _labels(flow)
    version = _add_version(session, actor.org_id, flow, data, settings)
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
    )


def list_flows(connection: Connection, *, actor: Actor, page: PageRequest) -> Page[dict[str, Any]]:
    """Newest flow first. Keyed on the flow id (time-ordered, never changes), so a walk through the
    pages sees every flow that exists throughout it exactly once, however often flows change.

    Read path (docs/adr/0007-list-read-path.md): the items are `FlowListItem`'s fields as plain
    values, rendered once by the router."""
    return repo.list_page(connection, actor.org_id, page, to_item=_list_item)


def get_latest_flow_version(session: Session, *, actor: Actor, flow_name: str) -> FlowVersionRead:
    flow = _flow(session, actor.org_id, flow_name)
    latest = repo.get_latest_version(session, actor.org_id, flow.id)
    if latest is None:
        raise NotFound("Flow not found.")
    return _version_read(session, flow, latest)


def get_flow_version(session: Session, *, actor: Actor, flow_name: str, flow_version: str) -> FlowVersionRead:
    flow = _flow(session, actor.org_id, flow_name)
    version = repo.get_version(session, actor.org_id, flow.id, flow_version)
    if version is None:
        raise NotFound("Flow version not found.", details={"flow_version": "no such version of this flow"})
    return _version_read(session, flow, version)


def list_flow_versions(
    session: Session, *, actor: Actor, flow_name: str, page: PageRequest
) -> FlowVersionList:
    """Highest deployment version first, specs left out."""
    flow = _flow(session, actor.org_id, flow_name)
    deployed = repo.deployed_version_ids(session, actor.org_id, flow.id)
    found = paginate(
        session,
        repo.versions_query(actor.org_id, flow.id),
        order_by=[FlowVersion.deployment_version],
        page=page,
        to_item=partial(_version_item, deployed=deployed, latest=flow.latest_version),
        scalars=False,
    )
    return FlowVersionList(flow_name=flow.name, items=found.items, next_token=found.next_token)


def delete_flow(session: Session, *, actor: Actor, flow_name: str, settings: Settings) -> FlowDeleted:
    """One statement: the database cascades to versions, deployments, runs, node runs, run logs and
    everything else that references the flow. The flow's artifacts and its runs' objects (their
    persisted node outputs) in the local object store go once the transaction has committed, so a
    failed delete leaves them in place."""
    flow = _flow(session, actor.org_id, flow_name)
    objects = settings.home / OBJECTS_DIR
    folders = [objects / artifact_prefix(actor.org_id, flow.name)]
    folders += [
        objects / run_objects_prefix(actor.org_id, run_id)
        for run_id in repo.run_ids_of_flow(session, actor.org_id, flow.id)
    ]
    repo.delete_flow(session, actor.org_id, flow.id)
    record(
        session,
        actor=actor,
        action=Action.DELETE,
        resource_type=RESOURCE,
        resource_id=flow.id,
        resource_name=flow.name,
        changes={"flow_version": [flow.latest_version, None]},
    )
    event.listen(session, "after_commit", lambda _session: _remove_trees(folders), once=True)
    return FlowDeleted(flow_name=flow.name)


def _remove_trees(paths: list[Path]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _flow(session: Session, org_id: str, flow_name: str) -> Flow:
    flow = repo.get_flow(session, org_id, flow_name)
    if flow is None:
        raise NotFound("Flow not found.")
    return flow


def _checked_name(session: Session, org_id: str, data: FlowCreate, settings: Settings) -> str:
    """The name comes from `flow_name` or, failing that, the spec's `name`; every problem with the
    spec and the artifact reference is reported with it."""
    problems: dict[str, str] = {}
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
    uri = data.artifact_s3_uri
    if name is not None and uri is not None and not uri.startswith("s3://"):
        prefix = artifact_prefix(org_id, name)
        if not uri.startswith(prefix):
            problems["artifact_s3_uri"] = f"a key in the object store must start with {prefix}"
    problems |= _runtime_problems(data, settings)
    if problems or name is None:
        raise InvalidInput("Invalid flow specification.", details=problems)
    return name


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
    session: Session, org_id: str, flow: Flow, data: FlowCreate, settings: Settings
) -> FlowVersion:
    deployment_version = repo.max_deployment_version(session, org_id, flow.id) + 1
    label = data.flow_version or _next_free_label(session, org_id, flow.id, deployment_version)
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


def _status(version: Any, *, deployed: set[str], latest: str | None) -> str:
    """Registered `inactive`/`draft` stays; an `active` registration is active only while it is the
    deployed version (or, for a flow without deployments, the latest)."""
    if version.status != "active":
        return str(version.status)
    is_active = version.id in deployed if deployed else version.version == latest
    return "active" if is_active else "inactive"


def _version_read(session: Session, flow: Flow, version: FlowVersion) -> FlowVersionRead:
    """The version with the flow's deployment (the one placing this version, if any): its name, and
    its executor and schedule where it sets them (else the version's own). `status` says whether
    this version is the one it runs."""
    deployment: Deployment | None = repo.deployment_for_version(session, flow.org_id, version)
    # The deployment shown places this version if any does, so it alone decides the status.
    deployed = {deployment.flow_version_id} if deployment else set()
    return FlowVersionRead(
        flow_name=flow.name,
        flow_version=version.version,
        artifact_s3_uri=version.artifact_s3_uri,
        created_at=version.created_at,
        updated_at=version.updated_at,
        schedule=_prefer(deployment, "schedule", version.schedule),
        status=_status(version, deployed=deployed, latest=flow.latest_version),
        deployment_name=deployment.name if deployment else None,
        default_executor=_prefer(deployment, "default_executor", version.default_executor),
        tags=dict(flow.tags or {}),
        namespace=flow.namespace,
        deployment_version=version.deployment_version,
        code_hash=version.code_hash,
        flow_spec=version.flow_spec,
    )


def _prefer(deployment: Deployment | None, field: str, fallback: str | None) -> str | None:
    value = getattr(deployment, field, None) if deployment is not None else None
    return value if value is not None else fallback


def _list_item(row: Row[Any]) -> dict[str, Any]:
    """A `FlowListItem`'s fields, as `page_response` renders them, from a `repo.LIST_PAGES` row
    (unpacked by position: the cheapest way through the 20-100 rows of a page)."""
    _id, flow_name, flow_version, namespace, tags, status, created_at, updated_at = row
    return {
        "flow_name": flow_name,
        "flow_version": flow_version,
        "namespace": namespace,
        "tags": tags or {},
        "status": status,
        "created_at": created_at,
        "updated_at": updated_at,
    }


def _version_item(row: Any, *, deployed: set[str], latest: str | None) -> FlowVersionItem:
    return FlowVersionItem(
        flow_version=row.version,
        deployment_version=row.deployment_version,
        artifact_s3_uri=row.artifact_s3_uri,
        status=_status(row, deployed=deployed, latest=latest),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
