"""Queries for API keys, always scoped by org id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, bindparam, select
from sqlalchemy.orm import Session

from dagy.server.api.pagination import KeysetPage, KeysetQuery, PageRequest
from dagy.server.db.models import ApiKey
from dagy.server.db.reads import read_timestamp

T = TypeVar("T")


def add(session: Session, key: ApiKey) -> None:
    session.add(key)
    session.flush()


def get(session: Session, org_id: str, key_id: str) -> ApiKey | None:
    stmt = select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.id == key_id)
    return session.execute(stmt).scalar_one_or_none()


# The list's columns (never the hash), built once (api/pagination.py: KeysetQuery).
LIST_PAGES = KeysetQuery(
    select(
        ApiKey.id,
        ApiKey.name,
        ApiKey.key_prefix,
        ApiKey.environment,
        ApiKey.scopes,
        read_timestamp(ApiKey.created_at),
        read_timestamp(ApiKey.last_used_at),
    ).where(ApiKey.org_id == bindparam("org_id")),
    order_by=[ApiKey.created_at, ApiKey.id],
)


def list_page(
    connection: Connection, org_id: str, page: PageRequest, *, to_item: Callable[[Row[Any]], T]
) -> KeysetPage[T]:
    """Newest first; ids are time-ordered, so `created_at, id` is a stable keyset."""
    return LIST_PAGES.page(connection, page, params={"org_id": org_id}, to_item=to_item)


def delete(session: Session, key: ApiKey) -> None:
    session.delete(key)
    session.flush()
