"""Queries for DAG drafts, always scoped by org id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, bindparam, select
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, KeysetQuery, PageRequest
from dagy.server.db.models import DagDraft
from dagy.server.db.reads import read_timestamp

T = TypeVar("T")


def get(session: Session, org_id: str, draft_id: str) -> DagDraft | None:
    stmt = select(DagDraft).where(DagDraft.org_id == org_id, DagDraft.id == draft_id)
    return session.execute(stmt).scalar_one_or_none()


# A page of drafts without their canvases, built once (api/pagination.py: KeysetQuery).
LIST_PAGES = KeysetQuery(
    select(
        DagDraft.id,
        DagDraft.name,
        DagDraft.description,
        DagDraft.flow_name,
        read_timestamp(DagDraft.created_at),
        read_timestamp(DagDraft.updated_at),
    ).where(DagDraft.org_id == bindparam("org_id")),
    order_by=[DagDraft.id],
)


def list_page(
    connection: Connection, org_id: str, page: PageRequest, *, to_item: Callable[[Row[Any]], T]
) -> KeysetPage[T]:
    """Newest first, keyed on the draft id (time-ordered)."""
    return LIST_PAGES.page(connection, page, params={"org_id": org_id}, to_item=to_item)


def add(session: Session, draft: DagDraft) -> None:
    session.add(draft)
    session.flush()


def delete(session: Session, draft: DagDraft) -> None:
    session.delete(draft)
    session.flush()
