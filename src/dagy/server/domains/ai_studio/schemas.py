"""Bodies of `/ai-studio`: tiers, sessions, message turns and attachments."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from dagy.protocol.models import Timestamp
from dagy.server.api.schemas import Name, RequestModel, ResponseModel
from dagy.server.domains.ai_studio.tiers import MAX_ATTACHMENT_BYTES, TIER_IDS
from dagy.server.domains.flows.schemas import FlowName

MAX_MESSAGE_CHARS = 8000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CANVAS_DESCRIPTION = (
    'The builder\'s canvas: {"nodes": [{"id", "type", "position": [x, y] or {"x", "y"}, "data": {}}], '
    '"edges": [{"id", "source", "target"}]}; at most 1 MB of JSON.'
)


def _known_tier(value: str) -> str:
    if value not in TIER_IDS:
        raise ValueError(f"must be one of {', '.join(TIER_IDS)}")
    return value


TierId = Annotated[str, AfterValidator(_known_tier)]


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _file_name(value: str) -> str:
    if "/" in value or "\\" in value:
        raise ValueError("must be a file's name, without folders")
    return _printable(value)


TurnId = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_printable)]
Intent = Literal["auto", "build", "modify", "advisory"]
Filename = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_file_name)]
ContentType = Annotated[str, StringConstraints(min_length=1, max_length=128)]


# Tiers


class TierLimits(ResponseModel):
    turns_per_session: int
    attachments_per_session: int
    max_attachment_bytes: int


class TierRead(ResponseModel):
    tier_id: str
    name: str
    description: str
    credits_per_turn: float
    limits: TierLimits


class TierList(ResponseModel):
    tiers: list[TierRead]
    default_tier: str
    credits_balance: float = Field(
        description="The org's credits; each turn costs its tier's credits_per_turn."
    )


# Sessions


class AiStudioSessionCreate(RequestModel):
    title: Name = "New session"
    tier: TierId = Field("standard", description=f"One of {', '.join(TIER_IDS)} (GET /ai-studio/tiers).")
    flow_name: FlowName | None = Field(None, description="Bind the session to this flow of the org.")


class AiStudioSessionTitleUpdate(RequestModel):
    title: Name


class AiStudioSessionTierUpdate(RequestModel):
    tier: TierId = Field(description=f"One of {', '.join(TIER_IDS)}.")


class AiStudioSessionCanvasUpdate(RequestModel):
    canvas_state: dict[str, Any] = Field(description=CANVAS_DESCRIPTION)


class AiStudioSessionFlowBinding(RequestModel):
    flow_name: FlowName


class AiStudioSessionSummary(ResponseModel):
    session_id: str
    title: str
    tier: str
    status: str = Field(description="active or archived")
    flow_name: str | None
    turn_count: int
    credits_used: float
    created_at: Timestamp
    updated_at: Timestamp
    archived_at: Timestamp | None


class AiStudioSessionList(ResponseModel):
    items: list[AiStudioSessionSummary]
    next_token: str | None = None


class AiStudioSessionCanvasRead(ResponseModel):
    session_id: str
    canvas_state: dict[str, Any]
    updated_at: Timestamp


class TurnRead(ResponseModel):
    turn_id: str
    message: str
    intent: str = Field(description="As the planner resolved it (as asked while the turn is pending).")
    status: str = Field(description="pending, completed, or invalid (no valid workflow came out)")
    response: str | None
    workflow_status: str | None
    credits_used: float
    created_at: Timestamp
    completed_at: Timestamp | None


class AttachmentRead(ResponseModel):
    attachment_id: str
    filename: str
    content_type: str
    kind: str = Field(description="pdf, docx, pptx, csv, txt, md, json or yaml")
    size: int
    status: str = Field(description="pending until completed and parsed, then ready")
    text_chars: int = Field(description="Characters of text parsed from the file.")
    text_truncated: bool
    text_preview: str | None = Field(description="The first 1,000 characters of the parsed text.")
    inferred_schema: dict[str, Any] | None = Field(description="Data files: the records' JSON Schema.")
    samples: list[Any] = Field(description="Data files: a few of the records.")
    created_at: Timestamp
    completed_at: Timestamp | None


class ValidationRead(ResponseModel):
    valid: bool
    errors: list[str]
    warnings: list[str]


class AiStudioSessionArtifacts(ResponseModel):
    """The last valid workflow a build or modify turn generated."""

    pipeline_yaml: str | None
    pipeline_python: str | None
    validation: ValidationRead | None


class AiStudioSessionRead(AiStudioSessionSummary):
    canvas_state: dict[str, Any] | None
    turns: list[TurnRead] = Field(description="The history, oldest first.")
    attachments: list[AttachmentRead]
    artifacts: AiStudioSessionArtifacts


# Message turns


class TurnCreate(RequestModel):
    message: str = Field(
        min_length=1, max_length=MAX_MESSAGE_CHARS, description="Natural language request (max 8000 chars)"
    )
    intent: Intent = Field("auto", description="One of auto, build, modify, or advisory")
    turn_id: TurnId | None = Field(None, description="Stable client turn identifier for retry safety")


class ResearchSource(ResponseModel):
    title: str
    url: str


class TurnAnswer(ResponseModel):
    """A turn's answer: 200 for an advisory turn and a build or modify turn that produced a valid
    workflow, 422 (the same body) for a build or modify turn that did not."""

    session: AiStudioSessionSummary
    response: str
    canvas_state: dict[str, Any] | None
    pipeline_yaml: str | None
    pipeline_python: str | None
    credits_used: float
    workflow_status: str = Field(description="generated, modified, unchanged, advisory or invalid")
    workflow_errors: list[str]
    validation: ValidationRead | None
    research_sources: list[ResearchSource]


# Attachments


class AttachmentInitiate(RequestModel):
    filename: Filename = Field(
        description="Its extension names the type: pdf, docx, pptx, csv, txt, md, json, yaml."
    )
    content_type: ContentType
    size: int = Field(gt=0, le=MAX_ATTACHMENT_BYTES, description="Bytes; at most 25 MB.")


class AttachmentUpload(ResponseModel):
    attachment_id: str
    upload_url: str = Field(description="PUT the file's bytes here, exactly `size` of them, in one request.")
    upload_method: str = "PUT"
    size: int
    expires_at: Timestamp = Field(description="When the upload URL stops working.")


class AttachmentComplete(RequestModel):
    attachment_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    etag: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="The ETag header the upload URL answered."
    )
