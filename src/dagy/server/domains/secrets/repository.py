"""Queries for secrets and data keys, always scoped by org id (rotation alone spans orgs)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dagy.server.api.pagination import FilteredKeysetQuery, KeysetPage, PageRequest
from dagy.server.db.models import DataKey, Secret
from dagy.server.db.reads import read_timestamp

T = TypeVar("T")


def get_data_key(session: Session, org_id: str) -> DataKey | None:
    return session.execute(select(DataKey).where(DataKey.org_id == org_id)).scalar_one_or_none()


def add_data_key(session: Session, data_key: DataKey) -> DataKey:
    """Insert the org's data key; when a concurrent request inserted one first, return that one."""
    try:
        with session.begin_nested():
            session.add(data_key)
    except IntegrityError:
        existing = get_data_key(session, data_key.org_id)
        if existing is None:
            raise
        return existing
    return data_key


def get_secret(session: Session, org_id: str, name: str, environment: str) -> Secret | None:
    stmt = select(Secret).where(
        Secret.org_id == org_id, Secret.name == name, Secret.environment == environment
    )
    return session.execute(stmt).scalar_one_or_none()


def existing_names(session: Session, org_id: str, names: Collection[str]) -> set[str]:
    if not names:
        return set()
    stmt = select(Secret.name).where(Secret.org_id == org_id, Secret.name.in_(list(names))).distinct()
    return set(session.execute(stmt).scalars())


def list_named(session: Session, org_id: str, name: str, *, limit: int) -> list[Secret]:
    stmt = select(Secret).where(Secret.org_id == org_id, Secret.name == name).order_by(Secret.id).limit(limit)
    return list(session.execute(stmt).scalars())


# A page of secrets' metadata (never a value) by name, environment and id; `environment` ("" for
# the secrets without one) an optional filter. Built once (api/pagination.py).
_PAGES = FilteredKeysetQuery(
    select(
        Secret.id,
        Secret.name,
        Secret.environment,
        read_timestamp(Secret.created_at),
        read_timestamp(Secret.updated_at),
    ).where(Secret.org_id == bindparam("org_id")),
    filters={"environment": Secret.environment == bindparam("environment")},
    order_by=[Secret.name, Secret.environment, Secret.id],
    descending=False,
)


def list_page(
    connection: Connection,
    org_id: str,
    page: PageRequest,
    *,
    environment: str | None,
    to_item: Callable[[Row[Any]], T],
) -> KeysetPage[T]:
    """A page of the org's secrets, or of those in `environment`."""
    filters = {"environment": environment}
    return _PAGES.page(connection, page, params={"org_id": org_id}, filters=filters, to_item=to_item)


def add(session: Session, secret: Secret) -> None:
    session.add(secret)
    session.flush()


def delete(session: Session, secret: Secret) -> None:
    session.delete(secret)
    session.flush()


def lock_data_keys_wrapped_by(session: Session, kek_ids: Collection[str], *, limit: int) -> list[DataKey]:
    """A batch of data keys to re-wrap, locked so two rotations never re-wrap the same row twice."""
    stmt = (
        select(DataKey)
        .where(DataKey.kek_id.in_(list(kek_ids)))
        .order_by(DataKey.id)
        .limit(limit)
        .with_for_update()
    )
    return list(session.execute(stmt).scalars())


def count_data_keys_by_kek(session: Session) -> dict[str, int]:
    stmt = select(DataKey.kek_id, func.count()).group_by(DataKey.kek_id)
    return {kek_id: count for kek_id, count in session.execute(stmt)}
