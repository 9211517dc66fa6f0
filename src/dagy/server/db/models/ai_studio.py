"""AI Studio: a user's sessions, their message turns and their parsed attachments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, TimestampMixin, id_column
from dagy.server.db.models.identity import CREDITS

# SQL NULL, never JSON null, for the blobs a session or an attachment may not have yet.
NullableJSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class AiStudioSession(Base, TimestampMixin):
    """One user's conversation in an org: its tier, its canvas and the artifacts of the last valid
    workflow its turns generated. `status`: active or archived. Only its creator opens it."""

    __tablename__ = "ai_studio_session"
    __table_args__ = (
        Index("ix_ai_studio_session_listing", "org_id", "user_id", "id"),  # the caller's own, by id
        Index("ix_ai_studio_session_flow", "org_id", "user_id", "flow_name"),  # GET .../by-flow/{name}
    )

    id: Mapped[str] = id_column("ais")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    flow_name: Mapped[str | None] = mapped_column(String(128))
    bound_at: Mapped[datetime | None]
    # The builder's canvas ({"nodes", "edges"}) and the last valid workflow's YAML, SDK code and
    # validation; None before the first one.
    canvas_state: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    pipeline_yaml: Mapped[str | None] = mapped_column(Text)
    pipeline_python: Mapped[str | None] = mapped_column(Text)
    validation: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    turn_count: Mapped[int] = mapped_column(Integer, default=0)  # answered turns
    credits_used: Mapped[float] = mapped_column(CREDITS, default=0.0)
    archived_at: Mapped[datetime | None]


class AiStudioTurn(Base):
    """One message and its answer. `status`: pending while the planner works, then completed or
    invalid (a build or modify turn that produced no valid workflow: answered 422). The answer's
    status code and body are kept, so a retry with the same `turn_id` or idempotency key replays it.
    A turn whose planner failed is removed: nothing was charged, the retry plans anew."""

    __tablename__ = "ai_studio_turn"
    __table_args__ = (
        UniqueConstraint("session_id", "turn_id"),
        UniqueConstraint("session_id", "idempotency_key"),
        Index("ix_ai_studio_turn_session", "session_id", "created_at"),
    )

    id: Mapped[str] = id_column("aiturn")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("ai_studio_session.id", ondelete="CASCADE"))
    # The client's `turn_id`, or this row's id when it gave none.
    turn_id: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))  # message and intent: a reused id must match
    tier: Mapped[str] = mapped_column(String(16))
    intent: Mapped[str] = mapped_column(String(16))  # as asked, then as the planner resolved it
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    response: Mapped[str | None] = mapped_column(Text)
    workflow_status: Mapped[str | None] = mapped_column(String(16))
    credits_used: Mapped[float] = mapped_column(CREDITS, default=0.0)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class AiStudioAttachment(Base):
    """A document attached to a session: uploaded to a single-part signed URL, then parsed into
    text (and, for data files, an inferred JSON Schema and sample records). `status`: pending until
    the upload is completed and parsed, then ready. The file's bytes are not kept, only its text."""

    __tablename__ = "ai_studio_attachment"
    __table_args__ = (Index("ix_ai_studio_attachment_session", "session_id", "created_at"),)

    id: Mapped[str] = id_column("aiatt")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("ai_studio_session.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(8))
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    object_key: Mapped[str] = mapped_column(String(1024))
    backend_upload_id: Mapped[str | None] = mapped_column(String(1024))  # S3's UploadId
    expires_at: Mapped[datetime]  # when the upload URL stops working
    text: Mapped[str | None] = mapped_column(Text)
    text_truncated: Mapped[bool] = mapped_column(default=False)
    inferred_schema: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    samples: Mapped[list[Any] | None] = mapped_column(NullableJSON)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
