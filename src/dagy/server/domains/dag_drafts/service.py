"""DAG drafts: create, list, read, update, delete. Tenant-scoped, every change audited."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, PageRequest
from dagy.server.db.base import utcnow
from dagy.server.db.models import DagDraft
from dagy.server.domains.audit_logs.service import Action, diff, record
from dagy.server.domains.dag_drafts import repository as repo
from dagy.server.domains.dag_drafts.canvas import canvas_problems
from dagy.server.domains.dag_drafts.schemas import (
    DagDraftCreate,
    DagDraftCreated,
    DagDraftRead,
    DagDraftUpdate,
    DagDraftUpdated,
)
from dagy.server.errors import InvalidInput, NotFound
from dagy.server.identity import Actor

RESOURCE = "dag_draft"
CANVAS_CHANGED = "canvas changed"  # the audit row says so; a 1 MB canvas does not belong in it
_NOT_NULL = ("name", "canvas_json")


def create_dag_draft(session: Session, *, actor: Actor, data: DagDraftCreate) -> DagDraftCreated:
    _check_canvas(data.canvas_json)
    draft = DagDraft(
        org_id=actor.org_id,
        name=data.name,
        description=data.description,
        canvas_json=data.canvas_json,
        flow_name=data.flow_name,
        executor=data.executor,
    )
    repo.add(session, draft)
    record(
        session,
        actor=actor,
        action=Action.CREATE,
        resource_type=RESOURCE,
        resource_id=draft.id,
        resource_name=draft.name,
        changes=diff({}, _fields(draft)) | {"canvas_json": CANVAS_CHANGED},
    )
    return DagDraftCreated.model_validate(_summary_fields(draft) | {"executor": draft.executor})


def list_dag_drafts(connection: Connection, *, actor: Actor, page: PageRequest) -> KeysetPage[dict[str, Any]]:
    """Newest draft first, canvases left out. Read path (docs/adr/0007-list-read-path.md): the
    items are `DagDraftSummary`'s fields as plain values, rendered once by the router."""
    return repo.list_page(connection, actor.org_id, page, to_item=_summary_fields)


def get_dag_draft(session: Session, *, actor: Actor, draft_id: str) -> DagDraftRead:
    draft = _draft(session, actor.org_id, draft_id)
    return DagDraftRead.model_validate(
        _summary_fields(draft) | {"executor": draft.executor, "canvas_json": draft.canvas_json}
    )


def update_dag_draft(
    session: Session, *, actor: Actor, draft_id: str, data: DagDraftUpdate
) -> DagDraftUpdated:
    """Only the fields given change; `name` and `canvas_json` cannot be cleared."""
    draft = _draft(session, actor.org_id, draft_id)
    given = data.model_dump(include=data.model_fields_set)
    nulls = {field: "must not be null" for field in _NOT_NULL if field in given and given[field] is None}
    if nulls:
        raise InvalidInput("Invalid DAG draft.", details=nulls)
    if "canvas_json" in given:
        _check_canvas(given["canvas_json"])
    before, canvas_before = _fields(draft), draft.canvas_json
    for field, value in given.items():
        setattr(draft, field, value)
    changes: dict[str, Any] = diff(before, _fields(draft))
    if draft.canvas_json != canvas_before:
        changes["canvas_json"] = CANVAS_CHANGED
    if changes:
        draft.updated_at = utcnow()
        session.flush()
    record(
        session,
        actor=actor,
        action=Action.UPDATE,
        resource_type=RESOURCE,
        resource_id=draft.id,
        resource_name=draft.name,
        changes=changes,
    )
    return DagDraftUpdated(draft_id=draft.id, name=draft.name, updated_at=draft.updated_at)


def delete_dag_draft(session: Session, *, actor: Actor, draft_id: str) -> None:
    draft = _draft(session, actor.org_id, draft_id)
    repo.delete(session, draft)
    record(
        session,
        actor=actor,
        action=Action.DELETE,
        resource_type=RESOURCE,
        resource_id=draft.id,
        resource_name=draft.name,
        changes={},
    )


def _draft(session: Session, org_id: str, draft_id: str) -> DagDraft:
    draft = repo.get(session, org_id, draft_id)
    if draft is None:
        raise NotFound("Draft not found.")
    return draft


def _check_canvas(canvas: Mapping[str, Any]) -> None:
    problems = canvas_problems(canvas)
    if problems:
        raise InvalidInput("Invalid canvas JSON.", details=problems)


def _fields(draft: DagDraft) -> dict[str, Any]:
    """What the audit trail shows by value; the canvas is only said to have changed."""
    return {
        "name": draft.name,
        "description": draft.description,
        "flow_name": draft.flow_name,
        "executor": draft.executor,
    }


def _summary_fields(row: Any) -> dict[str, Any]:
    """`DagDraftSummary`'s fields from a draft, or from a `repo.LIST_PAGES` row."""
    return {
        "draft_id": row.id,
        "name": row.name,
        "description": row.description,
        "flow_name": row.flow_name,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
