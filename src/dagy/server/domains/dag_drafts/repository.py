"""Queries for DAG drafts, always scoped by org id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dagy.server.db.models import DagDraft


def get(session: Session, org_id: str, draft_id: str) -> DagDraft | None:
    stmt = select(DagDraft).where(DagDraft.org_id == org_id, DagDraft.id == draft_id)
    return session.execute(stmt).scalar_one_or_none()


def list_query(org_id: str) -> Select[Any]:
    """A page of drafts without their canvases."""
    return select(
        DagDraft.id,
        DagDraft.name,
        DagDraft.description,
        DagDraft.flow_name,
        DagDraft.created_at,
        DagDraft.updated_at,
    ).where(DagDraft.org_id == org_id)


def add(session: Session, draft: DagDraft) -> None:
    session.add(draft)
    session.flush()


def delete(session: Session, draft: DagDraft) -> None:
    session.delete(draft)
    session.flush()
