"""Reading flows and their versions, deleting a flow with all it owns, and the lookups other
domains make by a flow's name and a version's label (registration: `registration.py`).

Which version is *active* (docs/flows.md): a version that a deployment places; when the flow has
no deployment, its latest version. A version registered as `inactive` or `draft` keeps that status.
"""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from dagy.runtime.objects import run_objects_prefix
from dagy.server.api.pagination import KeysetPage, ListRow, PageRequest
from dagy.server.db.models import Deployment, Flow, FlowVersion
from dagy.server.domains.audit_logs.service import Action, record
from dagy.server.domains.flows import repository as repo
from dagy.server.domains.flows.schemas import (
    FlowDeleted,
    FlowVersionRead,
)
from dagy.server.errors import NotFound
from dagy.server.identity import Actor
from dagy.server.settings import Settings

RESOURCE = "flow"
ARTIFACTS_ROOT = "dagy/flows"
OBJECTS_DIR = "objects"


def artifact_prefix(org_id: str, flow_name: str) -> str:
    """Where a flow's artifacts live in the object store: deleting the flow deletes this prefix."""
    return f"{ARTIFACTS_ROOT}/{org_id}/{flow_name}/"


def list_flows(connection: Connection, *, actor: Actor, page: PageRequest) -> KeysetPage[dict[str, Any]]:
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
    connection: Connection, *, actor: Actor, flow_name: str, page: PageRequest
) -> dict[str, Any]:
    """Highest deployment version first, specs left out.

    Read path (docs/adr/0007-list-read-path.md): `FlowVersionList`'s fields as plain values,
    rendered once by the router. Its three statements each read their own snapshot, as in a
    read-committed transaction: a version's status is that of the moment its page is read."""
    flow = repo.flow_of_versions(connection, actor.org_id, flow_name)
    if flow is None:
        raise NotFound("Flow not found.")
    deployed = repo.deployed_version_ids(connection, actor.org_id, flow.id)
    to_item = partial(_version_item, deployed=deployed, latest=flow.latest_version)
    found = repo.version_page(connection, actor.org_id, flow.id, page, to_item=to_item)
    return {"flow_name": flow.name, "items": found.items, "next_token": found.next_token}


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


def flow_named(session: Session, *, org_id: str, flow_name: str) -> Flow:
    """The flow another domain's request names (a deployment, a schedule, a sensor): 404 naming
    `flow_name` when the org has none of that name."""
    flow = repo.get_flow(session, org_id, flow_name)
    if flow is None:
        raise NotFound(f"Flow {flow_name} not found.", details={"flow_name": "no such flow"})
    return flow


def labelled_version(session: Session, *, flow: Flow, label: str | None) -> FlowVersion:
    """The version of `flow` labelled `label`, or its latest (the highest deployment version) when
    `label` is None: 404 naming `flow_version` when there is none."""
    if label is None:
        version = repo.get_latest_version(session, flow.org_id, flow.id)
    else:
        version = repo.get_version(session, flow.org_id, flow.id, label)
    if version is None:
        raise NotFound(
            f"Flow {flow.name} has no version {label}.", details={"flow_version": "no such version"}
        )
    return version


def version_for_deployment(session: Session, *, org_id: str, flow_id: str, label: str) -> FlowVersion:
    """Version `label` of the flow a deployment deploys (a move, a rollback, a promotion): 404
    naming `flow_version` when the flow has no such version."""
    version = repo.get_version(session, org_id, flow_id, label)
    if version is None:
        raise NotFound(f"The flow has no version {label}.", details={"flow_version": "no such version"})
    return version


def _remove_trees(paths: list[Path]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _flow(session: Session, org_id: str, flow_name: str) -> Flow:
    flow = repo.get_flow(session, org_id, flow_name)
    if flow is None:
        raise NotFound("Flow not found.")
    return flow


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
        parameter_schema=version.parameter_schema,
    )


def _prefer(deployment: Deployment | None, field: str, fallback: str | None) -> str | None:
    value = getattr(deployment, field, None) if deployment is not None else None
    return value if value is not None else fallback


def _list_item(row: ListRow) -> dict[str, Any]:
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


def _version_item(row: ListRow, *, deployed: set[str], latest: str | None) -> dict[str, Any]:
    """A `FlowVersionItem`'s fields from a `repo.VERSION_PAGES` row."""
    return {
        "flow_version": row.version,
        "deployment_version": row.deployment_version,
        "artifact_s3_uri": row.artifact_s3_uri,
        "status": _status(row, deployed=deployed, latest=latest),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
