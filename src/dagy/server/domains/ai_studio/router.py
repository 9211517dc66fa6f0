"""`/ai-studio`: tiers, sessions, message turns (synchronous and streamed) and attachments
(docs/ai-studio.md). Every route needs `flows.write`, as the reference says; a session is its
creator's alone (`ownership.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from dagy.server.api.deps import ArtifactStoreDep, SettingsDep, Tx
from dagy.server.api.pagination import PageRequest
from dagy.server.api.responses import JSONBytesResponse, page_response
from dagy.server.api.schemas import page_params
from dagy.server.api.security import CurrentActor, require_permission
from dagy.server.domains.ai_studio import attachments, conversation, service, uploads
from dagy.server.domains.ai_studio.planner import Planner, planner_for
from dagy.server.domains.ai_studio.schemas import (
    AiStudioSessionCanvasRead,
    AiStudioSessionCanvasUpdate,
    AiStudioSessionCreate,
    AiStudioSessionFlowBinding,
    AiStudioSessionList,
    AiStudioSessionRead,
    AiStudioSessionSummary,
    AiStudioSessionTierUpdate,
    AiStudioSessionTitleUpdate,
    AttachmentComplete,
    AttachmentInitiate,
    AttachmentRead,
    AttachmentUpload,
    TierList,
    TurnAnswer,
    TurnCreate,
)

router = APIRouter(prefix="/ai-studio", tags=["AI Studio"])

_write = [Depends(require_permission("flows.write"))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=255, description="Makes retries safe, as `turn_id` does: the stored answer is replayed."
    ),
]
_TURN_ANSWERS: dict[int | str, dict[str, object]] = {
    422: {"model": TurnAnswer, "description": "A build or modify turn that produced no valid workflow."}
}

_EVENT_STREAM: dict[int | str, dict[str, object]] = {
    200: {
        "description": "Server-Sent Events: status, token, canvas, validation, then done or error.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


async def get_planner(request: Request, settings: SettingsDep) -> Planner:
    """The installation's planner (planner/__init__.py chooses it by the settings), made once."""
    planner: Planner | None = getattr(request.app.state, "ai_studio_planner", None)
    if planner is None:
        planner = request.app.state.ai_studio_planner = planner_for(settings)
    return planner


PlannerDep = Annotated[Planner, Depends(get_planner)]


@router.get("/tiers", response_model=TierList, dependencies=_write)
async def list_ai_studio_tiers(tx: Tx, actor: CurrentActor) -> TierList:
    """Model tiers, their credits per turn and limits, and the org's credits balance."""
    return await tx.run(service.list_tiers, actor=actor)


@router.post("/sessions", status_code=201, response_model=AiStudioSessionRead, dependencies=_write)
async def create_ai_studio_session(
    body: AiStudioSessionCreate, tx: Tx, actor: CurrentActor
) -> AiStudioSessionRead:
    return await tx.run(service.create_session, actor=actor, data=body)


@router.get(
    "/sessions", response_model=AiStudioSessionList, response_class=JSONBytesResponse, dependencies=_write
)
async def list_ai_studio_sessions(
    tx: Tx,
    actor: CurrentActor,
    page: Annotated[PageRequest, Depends(page_params(20, 100))],
    include_archived: Annotated[bool, Query(description="List archived sessions too.")] = False,
) -> JSONBytesResponse:
    """The caller's own sessions in the org, newest first."""
    listed = await tx.list(service.list_sessions, actor=actor, page=page, include_archived=include_archived)
    return page_response(listed)


@router.get("/sessions/by-flow/{flow_name}", response_model=AiStudioSessionRead, dependencies=_write)
async def get_ai_studio_session_for_flow(flow_name: str, tx: Tx, actor: CurrentActor) -> AiStudioSessionRead:
    """The caller's session bound to the flow (the most recently bound); 404 when none is."""
    return await tx.run(service.get_session_for_flow, actor=actor, flow_name=flow_name)


@router.post("/sessions/{session_id}/bind-flow", response_model=AiStudioSessionSummary, dependencies=_write)
async def bind_ai_studio_session_flow(
    session_id: str, body: AiStudioSessionFlowBinding, tx: Tx, actor: CurrentActor
) -> AiStudioSessionSummary:
    return await tx.run(service.bind_flow, actor=actor, session_id=session_id, data=body)


@router.get("/sessions/{session_id}", response_model=AiStudioSessionRead, dependencies=_write)
async def get_ai_studio_session(session_id: str, tx: Tx, actor: CurrentActor) -> AiStudioSessionRead:
    """History (turns, oldest first), canvas, attachments and the last generated artifacts."""
    return await tx.run(service.get_session, actor=actor, session_id=session_id)


@router.delete("/sessions/{session_id}", status_code=204, response_class=Response, dependencies=_write)
async def delete_ai_studio_session(
    session_id: str, tx: Tx, actor: CurrentActor, store: ArtifactStoreDep
) -> Response:
    await tx.run(service.delete_session, actor=actor, session_id=session_id, store=store)
    return Response(status_code=204)


@router.post("/sessions/{session_id}/archive", response_model=AiStudioSessionSummary, dependencies=_write)
async def archive_ai_studio_session(session_id: str, tx: Tx, actor: CurrentActor) -> AiStudioSessionSummary:
    return await tx.run(service.archive_session, actor=actor, session_id=session_id)


@router.post(
    "/sessions/{session_id}/messages",
    response_model=TurnAnswer,
    response_class=JSONBytesResponse,
    responses=_TURN_ANSWERS,
    dependencies=_write,
)
async def send_ai_studio_message(
    session_id: str,
    body: TurnCreate,
    tx: Tx,
    actor: CurrentActor,
    *,
    planner: PlannerDep,
    x_idempotency_key: IdempotencyKey = None,
) -> JSONBytesResponse:
    """One turn, answered when done: 200, or 422 (same body) for a build or modify turn that
    produced no valid workflow. The same `turn_id` or `X-Idempotency-Key` replays the answer."""
    answer = await conversation.take_turn(
        tx, planner, actor=actor, session_id=session_id, data=body, idempotency_key=x_idempotency_key
    )
    return JSONBytesResponse(answer.body, status_code=answer.status_code)


@router.post(
    "/sessions/{session_id}/messages/stream",
    response_class=StreamingResponse,
    responses=_EVENT_STREAM,
    dependencies=_write,
)
async def stream_ai_studio_message(
    session_id: str,
    body: TurnCreate,
    tx: Tx,
    actor: CurrentActor,
    *,
    planner: PlannerDep,
    x_idempotency_key: IdempotencyKey = None,
) -> StreamingResponse:
    """One turn as Server-Sent Events: `status`, `token`, `canvas`, `validation` while it is
    answered, then `done` (the synchronous answer's body) or `error` (an error body). Refusals
    (400, 402, 404, 409, 429) are plain HTTP answers before the stream starts."""
    start = await conversation.open_turn(
        tx, actor=actor, session_id=session_id, data=body, idempotency_key=x_idempotency_key
    )
    return StreamingResponse(
        conversation.turn_events(tx, planner, start, actor=actor),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.patch("/sessions/{session_id}/canvas", response_model=AiStudioSessionCanvasRead, dependencies=_write)
async def save_ai_studio_canvas(
    session_id: str, body: AiStudioSessionCanvasUpdate, tx: Tx, actor: CurrentActor
) -> AiStudioSessionCanvasRead:
    """The builder's edits, checked for shape; the next modify turn edits this canvas."""
    return await tx.run(service.save_canvas, actor=actor, session_id=session_id, data=body)


@router.patch("/sessions/{session_id}/tier", response_model=AiStudioSessionSummary, dependencies=_write)
async def change_ai_studio_tier(
    session_id: str, body: AiStudioSessionTierUpdate, tx: Tx, actor: CurrentActor
) -> AiStudioSessionSummary:
    return await tx.run(service.change_tier, actor=actor, session_id=session_id, data=body)


@router.patch("/sessions/{session_id}/title", response_model=AiStudioSessionSummary, dependencies=_write)
async def rename_ai_studio_session(
    session_id: str, body: AiStudioSessionTitleUpdate, tx: Tx, actor: CurrentActor
) -> AiStudioSessionSummary:
    return await tx.run(service.rename_session, actor=actor, session_id=session_id, data=body)


@router.post(
    "/sessions/{session_id}/attachments/initiate", response_model=AttachmentUpload, dependencies=_write
)
async def initiate_ai_studio_attachment(
    session_id: str,
    body: AttachmentInitiate,
    request: Request,
    tx: Tx,
    actor: CurrentActor,
    *,
    settings: SettingsDep,
    store: ArtifactStoreDep,
) -> AttachmentUpload:
    """Check the file (type, size; images refused) and the session's limit, and answer the one
    URL to PUT the whole file to; its answer's ETag header goes into complete."""
    return await tx.run(
        attachments.initiate_attachment,
        actor=actor,
        session_id=session_id,
        data=body,
        settings=settings,
        store=store,
        base_url=str(request.base_url),
    )


@router.post(
    "/sessions/{session_id}/attachments/complete", response_model=AttachmentRead, dependencies=_write
)
async def complete_ai_studio_attachment(
    session_id: str, body: AttachmentComplete, tx: Tx, actor: CurrentActor, store: ArtifactStoreDep
) -> AttachmentRead:
    """Parse the uploaded file into text (and, for CSV, JSON and YAML, a schema and samples) and
    attach it to the session; 400 when it does not parse."""
    return await uploads.complete_attachment(tx, actor=actor, session_id=session_id, data=body, store=store)


@router.delete(
    "/sessions/{session_id}/attachments/{attachment_id}",
    status_code=204,
    response_class=Response,
    dependencies=_write,
)
async def delete_ai_studio_attachment(
    session_id: str, attachment_id: str, tx: Tx, actor: CurrentActor, store: ArtifactStoreDep
) -> Response:
    await tx.run(
        attachments.delete_attachment,
        actor=actor,
        session_id=session_id,
        attachment_id=attachment_id,
        store=store,
    )
    return Response(status_code=204)
