"""The API's view of AI Studio's rows: the response models built from sessions, turns and
attachments (no ORM object leaves a service)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagy.server.db.models import AiStudioAttachment, AiStudioSession, AiStudioTurn
from dagy.server.domains.ai_studio.schemas import (
    AiStudioSessionArtifacts,
    AiStudioSessionRead,
    AiStudioSessionSummary,
    AttachmentRead,
    TurnRead,
    ValidationRead,
)

TEXT_PREVIEW_CHARS = 1000


def summary_fields(row: Any) -> dict[str, Any]:
    """`AiStudioSessionSummary`'s fields from a session, or from a row of `repository.LIST_PAGES`."""
    return {
        "session_id": row.id,
        "title": row.title,
        "tier": row.tier,
        "status": row.status,
        "flow_name": row.flow_name,
        "turn_count": row.turn_count,
        "credits_used": float(row.credits_used),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "archived_at": row.archived_at,
    }


def session_summary(row: AiStudioSession) -> AiStudioSessionSummary:
    return AiStudioSessionSummary.model_validate(summary_fields(row))


def session_read(
    row: AiStudioSession, turns: Sequence[AiStudioTurn], attachments: Sequence[AiStudioAttachment]
) -> AiStudioSessionRead:
    artifacts = AiStudioSessionArtifacts(
        pipeline_yaml=row.pipeline_yaml,
        pipeline_python=row.pipeline_python,
        validation=ValidationRead.model_validate(row.validation) if row.validation is not None else None,
    )
    return AiStudioSessionRead.model_validate(
        summary_fields(row)
        | {
            "canvas_state": row.canvas_state,
            "turns": [turn_read(turn) for turn in turns],
            "attachments": [attachment_read(attachment) for attachment in attachments],
            "artifacts": artifacts,
        }
    )


def turn_read(turn: AiStudioTurn) -> TurnRead:
    return TurnRead(
        turn_id=turn.turn_id,
        message=turn.message,
        intent=turn.intent,
        status=turn.status,
        response=turn.response,
        workflow_status=turn.workflow_status,
        credits_used=float(turn.credits_used),
        created_at=turn.created_at,
        completed_at=turn.completed_at,
    )


def attachment_read(attachment: AiStudioAttachment) -> AttachmentRead:
    text = attachment.text
    return AttachmentRead(
        attachment_id=attachment.id,
        filename=attachment.filename,
        content_type=attachment.content_type,
        kind=attachment.kind,
        size=attachment.size,
        status=attachment.status,
        text_chars=len(text or ""),
        text_truncated=attachment.text_truncated,
        text_preview=text[:TEXT_PREVIEW_CHARS] if text is not None else None,
        inferred_schema=attachment.inferred_schema,
        samples=list(attachment.samples or []),
        created_at=attachment.created_at,
        completed_at=attachment.completed_at,
    )
