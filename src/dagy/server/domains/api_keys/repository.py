"""Queries for API keys, always scoped by org id."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from dagy.server.api.pagination import Page, PageRequest, paginate
from dagy.server.db.models import ApiKey

T = TypeVar("T")


def add(session: Session, key: ApiKey) -> None:
    session.add(key)
    session.flush()


def get(session: Session, org_id: str, key_id: str) -> ApiKey | None:
    stmt = select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.id == key_id)
    return session.execute(stmt).scalar_one_or_none()


def list_page(session: Session, org_id: str, page: PageRequest, to_item: Callable[[ApiKey], T]) -> Page[T]:
    """Newest first; ids are time-ordered, so `created_at, id` is a stable keyset."""
    stmt = select(ApiKey).where(ApiKey.org_id == org_id)
    return paginate(session, stmt, order_by=[ApiKey.created_at, ApiKey.id], page=page, to_item=to_item)


def delete(session: Session, key: ApiKey) -> None:
    session.delete(key)
    session.flush()
