"""AI Studio's sessions: tiers, create, list, read, rename, change tier, save the canvas, bind to a
flow, archive, delete. Message turns are in `turns.py`, attachments in `attachments.py`.
Only the user who created a session lists, opens, changes or deletes it (`ownership.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, PageRequest
from dagy.server.db.base import utcnow
from dagy.server.db.models import AiStudioSession
from dagy.server.domains.ai_studio import attachments, ownership, views
from dagy.server.domains.ai_studio import repository as repo
from dagy.server.domains.ai_studio.schemas import (
    AiStudioSessionCanvasRead,
    AiStudioSessionCanvasUpdate,
    AiStudioSessionCreate,
    AiStudioSessionFlowBinding,
    AiStudioSessionRead,
    AiStudioSessionSummary,
    AiStudioSessionTierUpdate,
    AiStudioSessionTitleUpdate,
    TierLimits,
    TierList,
    TierRead,
)
from dagy.server.domains.ai_studio.tiers import DEFAULT_TIER, TIERS
from dagy.server.domains.audit_logs.service import Action, diff, record
from dagy.server.domains.dag_drafts.canvas import ROOT as CANVAS_ROOT
from dagy.server.domains.dag_drafts.canvas import canvas_problems
from dagy.server.domains.flows import service as flows
from dagy.server.errors import InvalidInput, NotFound
from dagy.server.identity import Actor
from dagy.storage import ArtifactStore

RESOURCE = "ai_studio_session"


def list_tiers(session: Session, *, actor: Actor) -> TierList:
    """Every tier with its price and limits, and the org's credits balance."""
    tiers = [
        TierRead(
            tier_id=tier.tier_id,
            name=tier.name,
            description=tier.description,
            credits_per_turn=tier.credits_per_turn,
            limits=TierLimits(
                turns_per_session=tier.turns_per_session,
                attachments_per_session=tier.attachments_per_session,
                max_attachment_bytes=tier.max_attachment_bytes,
            ),
        )
        for tier in TIERS.values()
    ]
    balance = repo.credits_balance(session, actor.org_id)
    return TierList(tiers=tiers, default_tier=DEFAULT_TIER, credits_balance=balance)


def create_session(session: Session, *, actor: Actor, data: AiStudioSessionCreate) -> AiStudioSessionRead:
    now = utcnow()
    row = AiStudioSession(
        org_id=actor.org_id,
        user_id=ownership.user_id_of(actor),
        title=data.title,
        tier=data.tier,
        status=repo.ACTIVE,
        turn_count=0,
        credits_used=0.0,
        created_at=now,
        updated_at=now,
    )
    if data.flow_name is not None:
        row.flow_name = flows.flow_named(session, org_id=actor.org_id, flow_name=data.flow_name).name
        row.bound_at = now
    repo.add(session, row)
    _audit(session, actor, Action.CREATE, row, diff({}, _audited(row)))
    return views.session_read(row, [], [])


def list_sessions(
    connection: Connection, *, actor: Actor, page: PageRequest, include_archived: bool
) -> KeysetPage[dict[str, Any]]:
    """The caller's own sessions in the org, newest first; archived ones only when asked for. Read
    path (docs/adr/0007-list-read-path.md): `AiStudioSessionSummary`'s fields as plain values."""
    return repo.list_sessions_page(
        connection,
        actor.org_id,
        ownership.user_id_of(actor),
        page,
        include_archived=include_archived,
        to_item=views.summary_fields,
    )


def get_session(session: Session, *, actor: Actor, session_id: str) -> AiStudioSessionRead:
    return _full(session, ownership.own_session(session, actor, session_id))


def get_session_for_flow(session: Session, *, actor: Actor, flow_name: str) -> AiStudioSessionRead:
    """The caller's session bound to the flow most recently; 404 when none is."""
    row = repo.get_session_for_flow(session, actor.org_id, ownership.user_id_of(actor), flow_name)
    if row is None:
        raise NotFound(f"No session is bound to flow {flow_name}.", details={"flow_name": "no bound session"})
    return _full(session, row)


def rename_session(
    session: Session, *, actor: Actor, session_id: str, data: AiStudioSessionTitleUpdate
) -> AiStudioSessionSummary:
    row = ownership.own_session(session, actor, session_id)
    row.title = data.title
    return _touched(session, row)


def change_tier(
    session: Session, *, actor: Actor, session_id: str, data: AiStudioSessionTierUpdate
) -> AiStudioSessionSummary:
    """The new tier prices the next turns; the limits are the new tier's from now on."""
    row = ownership.own_session(session, actor, session_id)
    row.tier = data.tier
    return _touched(session, row)


def save_canvas(
    session: Session, *, actor: Actor, session_id: str, data: AiStudioSessionCanvasUpdate
) -> AiStudioSessionCanvasRead:
    """The builder's edits: checked for shape (as a DAG draft's canvas), then kept as the canvas
    the next modify turn edits."""
    problems = canvas_problems(data.canvas_state)
    if problems:
        raise InvalidInput("Invalid canvas state.", details=_renamed(problems))
    row = ownership.own_session(session, actor, session_id)
    row.canvas_state = data.canvas_state
    _touched(session, row)
    return AiStudioSessionCanvasRead(
        session_id=row.id, canvas_state=data.canvas_state, updated_at=row.updated_at
    )


def bind_flow(
    session: Session, *, actor: Actor, session_id: str, data: AiStudioSessionFlowBinding
) -> AiStudioSessionSummary:
    """Bind the session to a flow of the org (404 naming `flow_name` when there is none)."""
    row = ownership.own_session(session, actor, session_id)
    flow = flows.flow_named(session, org_id=actor.org_id, flow_name=data.flow_name)
    before = _audited(row)
    row.flow_name, row.bound_at = flow.name, utcnow()
    _audit(session, actor, Action.UPDATE, row, diff(before, _audited(row)) | {"operation": "bind_flow"})
    return _touched(session, row)


def archive_session(session: Session, *, actor: Actor, session_id: str) -> AiStudioSessionSummary:
    """Archived sessions leave the list and take no more turns or attachments; archiving one again
    changes nothing."""
    row = ownership.own_session(session, actor, session_id)
    if row.status == repo.ARCHIVED:
        return views.session_summary(row)
    before = _audited(row)
    row.status, row.archived_at = repo.ARCHIVED, utcnow()
    _audit(session, actor, Action.UPDATE, row, diff(before, _audited(row)) | {"operation": "archive"})
    return _touched(session, row)


def delete_session(session: Session, *, actor: Actor, session_id: str, store: ArtifactStore) -> None:
    """The session, its turns and attachments; uploads still open are discarded once committed."""
    row = ownership.own_session(session, actor, session_id)
    attachments.discard_open_uploads_after_commit(session, store, repo.list_attachments(session, row.id))
    repo.delete_row(session, row)
    _audit(session, actor, Action.DELETE, row, {})


def _full(session: Session, row: AiStudioSession) -> AiStudioSessionRead:
    return views.session_read(row, repo.list_turns(session, row.id), repo.list_attachments(session, row.id))


def _touched(session: Session, row: AiStudioSession) -> AiStudioSessionSummary:
    row.updated_at = utcnow()
    session.flush()
    return views.session_summary(row)


def _renamed(problems: Mapping[str, str]) -> dict[str, str]:
    """The canvas check names fields after a DAG draft's `canvas_json`; here the field is `canvas_state`."""
    return {"canvas_state" + field.removeprefix(CANVAS_ROOT): problem for field, problem in problems.items()}


def _audited(row: AiStudioSession) -> dict[str, Any]:
    return {"title": row.title, "tier": row.tier, "status": row.status, "flow_name": row.flow_name}


def _audit(
    session: Session, actor: Actor, action: Action, row: AiStudioSession, changes: dict[str, Any]
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        resource_type=RESOURCE,
        resource_id=row.id,
        resource_name=row.title,
        changes=changes,
    )
