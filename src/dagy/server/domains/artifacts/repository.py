"""SQL of `/artifacts`: upload rows by id within an org, and the abandoned ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dagy.server.db.models import ArtifactUpload

PENDING = "pending"


def get(session: Session, org_id: str, upload_id: str, *, for_update: bool = False) -> ArtifactUpload | None:
    """`for_update` locks the row (PostgreSQL): a completion and an abort of one upload go in turn."""
    stmt = select(ArtifactUpload).where(ArtifactUpload.org_id == org_id, ArtifactUpload.id == upload_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def add(session: Session, upload: ArtifactUpload) -> None:
    session.add(upload)
    session.flush()


def abandoned(session: Session, *, created_before: datetime, limit: int) -> Sequence[ArtifactUpload]:
    """Pending uploads begun before `created_before`, oldest first, locked and skipped when another
    cleaner holds them (PostgreSQL)."""
    stmt = (
        select(ArtifactUpload)
        .where(ArtifactUpload.status == PENDING, ArtifactUpload.created_at < created_before)
        .order_by(ArtifactUpload.created_at, ArtifactUpload.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return session.execute(stmt).scalars().all()
