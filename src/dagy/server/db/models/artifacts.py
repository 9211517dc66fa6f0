"""Multipart artifact uploads in progress (and what became of them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, id_column, utcnow


class ArtifactUpload(Base):
    """One `POST /artifacts/initiate`: where its artifact goes, what it registers on completion,
    and its parts' plan. `status`: pending, then completed or aborted (by the client, or by the
    services loop when it was abandoned)."""

    __tablename__ = "artifact_upload"
    __table_args__ = (Index("ix_artifact_upload_abandoned", "status", "created_at"),)

    id: Mapped[str] = id_column("upl")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    artifact_key: Mapped[str] = mapped_column(String(1024))
    flow_name: Mapped[str] = mapped_column(String(128))
    flow_version: Mapped[str] = mapped_column(String(64))
    deployment_name: Mapped[str] = mapped_column(String(128))
    file_size: Mapped[int] = mapped_column(BigInteger)
    part_size: Mapped[int] = mapped_column(BigInteger)
    part_count: Mapped[int]
    # The store's own id of the upload (S3's UploadId); None for the local store.
    backend_upload_id: Mapped[str | None] = mapped_column(String(1024))
    created_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")
