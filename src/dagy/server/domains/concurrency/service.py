"""Concurrency limits of an org: read, set (create or replace) and remove a flow's, a deployment's
or a pool's limit. The claim applies them (admission.py)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, PageRequest
from dagy.server.db.models import ConcurrencyLimit
from dagy.server.domains.audit_logs.service import Action, diff, record
from dagy.server.domains.concurrency import repository as repo
from dagy.server.domains.concurrency.schemas import (
    CollisionStrategy,
    ConcurrencyLimitDeleted,
    ConcurrencyLimitPut,
    ConcurrencyLimitRead,
    LimitKind,
)
from dagy.server.domains.deployments.service import find_deployment
from dagy.server.domains.flows.service import flow_named
from dagy.server.errors import InvalidInput, NotFound
from dagy.server.identity import Actor

POOL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_AUDITED = ("slots", "collision_strategy", "tags", "node_types", "description")


def list_limits(
    connection: Connection, *, actor: Actor, page: PageRequest, kind: LimitKind | None
) -> KeysetPage[dict[str, Any]]:
    """By kind, then name, each with the runs holding its slots."""
    listed = repo.list_page(connection, actor.org_id, page, kind=kind, to_item=_row_item)
    ids = [item["id"] for item in listed.items]
    held = repo.holders(connection, ids)
    for item in listed.items:
        runs = held.get(item.pop("id"), [])
        item |= {"active_slots": len(runs), "active_run_ids": runs}
    return listed


def get_limit(session: Session, *, actor: Actor, kind: LimitKind, name: str) -> ConcurrencyLimitRead:
    return _read(session, _limit(session, actor.org_id, kind, name))


def put_limit(
    session: Session, *, actor: Actor, kind: LimitKind, name: str, data: ConcurrencyLimitPut
) -> ConcurrencyLimitRead:
    """Create or replace: a flow's or a deployment's limit names an existing one (404 otherwise) and
    matches its runs by that; a pool matches by tags or node types (at least one, 400 otherwise)."""
    target = _target(session, actor.org_id, kind, name, data)
    limit = repo.get_limit(session, actor.org_id, kind, name)
    before = {} if limit is None else {key: getattr(limit, key) for key in _AUDITED}
    if limit is None:
        limit = ConcurrencyLimit(org_id=actor.org_id, kind=kind.value, name=name, **target)
        session.add(limit)
    values = data.model_dump(mode="json")
    for key in _AUDITED:
        setattr(limit, key, values[key])
    session.flush()
    record(
        session,
        actor=actor,
        action=Action.UPDATE if before else Action.CREATE,
        resource_type="concurrency_limit",
        resource_id=limit.id,
        resource_name=f"{kind}/{name}",
        changes=diff(before, values),
    )
    return _read(session, limit)


def delete_limit(session: Session, *, actor: Actor, kind: LimitKind, name: str) -> ConcurrencyLimitDeleted:
    """Runs queued behind the limit are claimed as workers ask again."""
    limit = _limit(session, actor.org_id, kind, name)
    session.delete(limit)
    record(
        session,
        actor=actor,
        action=Action.DELETE,
        resource_type="concurrency_limit",
        resource_id=limit.id,
        resource_name=f"{kind}/{name}",
        changes={key: [getattr(limit, key), None] for key in _AUDITED},
    )
    return ConcurrencyLimitDeleted(kind=kind, name=name)


def sweep_slots(session: Session, *, limit: int) -> int:
    """Delete slot rows of runs that stopped running, up to `limit` (the services, every reaper
    pass): they count for nothing already, but would pile up."""
    return repo.sweep_slots(session, limit=limit)


def _target(
    session: Session, org_id: str, kind: LimitKind, name: str, data: ConcurrencyLimitPut
) -> dict[str, Any]:
    if kind == LimitKind.POOLS:
        if not POOL_NAME.match(name):
            raise InvalidInput(
                "Invalid pool name.",
                details={"name": "1-128 letters, digits or . _ - starting with a letter or digit"},
            )
        if not data.tags and not data.node_types:
            raise InvalidInput("A pool needs members.", details={"tags": "give tags, node_types or both"})
        return {}
    given = [key for key in ("tags", "node_types") if getattr(data, key)]
    if given:
        raise InvalidInput(
            f"Only a pool matches runs by {given[0]}.",
            details={
                key: f"not allowed for {kind}: the limit counts the {kind[:-1]}'s runs" for key in given
            },
        )
    if kind == LimitKind.FLOWS:
        return {"flow_id": flow_named(session, org_id=org_id, flow_name=name).id}
    deployment = find_deployment(session, org_id=org_id, name=name)
    if deployment is None:
        raise NotFound(f"Deployment {name} not found.", details={"deployment_name": "no such deployment"})
    return {"deployment_id": deployment.id}


def _limit(session: Session, org_id: str, kind: LimitKind, name: str) -> ConcurrencyLimit:
    limit = repo.get_limit(session, org_id, kind, name)
    if limit is None:
        raise NotFound(f"No concurrency limit for {kind} {name}.", details={"name": "no such limit"})
    return limit


def _read(session: Session, limit: ConcurrencyLimit) -> ConcurrencyLimitRead:
    runs = repo.holders(session, [limit.id]).get(limit.id, [])
    return ConcurrencyLimitRead(
        kind=LimitKind(limit.kind),
        name=limit.name,
        slots=limit.slots,
        collision_strategy=CollisionStrategy(limit.collision_strategy),
        tags=limit.tags,
        node_types=limit.node_types,
        description=limit.description,
        active_slots=len(runs),
        active_run_ids=runs,
        created_at=limit.created_at,
        updated_at=limit.updated_at,
    )


def _row_item(row: Row[Any]) -> dict[str, Any]:
    return dict(row._mapping)
