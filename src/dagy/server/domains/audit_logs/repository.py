"""Queries over the audit trail, always scoped by org id, newest first.

`ix_audit_log_org_timestamp` serves the org-wide list and `ix_audit_log_org_resource` one
resource's trail; the other filters narrow rows already reached through those indexes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, bindparam, insert, select
from sqlalchemy.orm import Session

from dagy.server.api.pagination import FilteredKeysetQuery, KeysetPage, KeysetQuery, PageRequest
from dagy.server.db.models import AuditLog
from dagy.server.db.reads import read_timestamp

T = TypeVar("T")

_ORDER = [AuditLog.timestamp, AuditLog.id]
_IN_ORG = AuditLog.org_id == bindparam("org_id")
_OF_RESOURCE = (
    AuditLog.resource_type == bindparam("resource_type"),
    AuditLog.resource_id == bindparam("resource_id"),
)

# The org's trail, newest first; every combination of the filters built once (api/pagination.py).
LIST_PAGES = FilteredKeysetQuery(
    select(
        AuditLog.id,
        read_timestamp(AuditLog.timestamp),
        AuditLog.actor_email,
        AuditLog.action,
        AuditLog.resource_type,
        AuditLog.resource_id,
        AuditLog.resource_name,
        AuditLog.changes,
        AuditLog.ip_address,
        AuditLog.user_agent,
    ).where(_IN_ORG),
    filters={
        "resource_type": AuditLog.resource_type == bindparam("resource_type"),
        "action": AuditLog.action == bindparam("action"),
        "actor_email": AuditLog.actor_email == bindparam("actor_email"),
        "start": AuditLog.timestamp >= bindparam("start"),
        "end": AuditLog.timestamp <= bindparam("end"),
    },
    order_by=_ORDER,
)

# One resource's trail, newest first.
RESOURCE_PAGES = KeysetQuery(
    select(
        AuditLog.id,
        read_timestamp(AuditLog.timestamp),
        AuditLog.actor_email,
        AuditLog.action,
        AuditLog.changes,
    ).where(_IN_ORG, *_OF_RESOURCE),
    order_by=_ORDER,
)

# The newest name the resource's rows give it (a row without one only when none has one).
_LATEST_NAME = (
    select(AuditLog.resource_name)
    .where(_IN_ORG, *_OF_RESOURCE)
    .order_by(AuditLog.resource_name.is_(None), AuditLog.timestamp.desc(), AuditLog.id.desc())
    .limit(1)
)


def list_page(
    connection: Connection,
    org_id: str,
    *,
    page: PageRequest,
    to_item: Callable[[Row[Any]], T],
    resource_type: str | None = None,
    action: str | None = None,
    actor_email: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> KeysetPage[T]:
    filters = {
        "resource_type": resource_type,
        "action": action,
        "actor_email": actor_email,
        "start": start,
        "end": end,
    }
    return LIST_PAGES.page(connection, page, params={"org_id": org_id}, filters=filters, to_item=to_item)


def resource_page(
    connection: Connection,
    org_id: str,
    resource_type: str,
    resource_id: str,
    *,
    page: PageRequest,
    to_item: Callable[[Row[Any]], T],
) -> KeysetPage[T]:
    params = {"org_id": org_id, "resource_type": resource_type, "resource_id": resource_id}
    return RESOURCE_PAGES.page(connection, page, params=params, to_item=to_item)


def latest_resource_name(
    connection: Connection, org_id: str, resource_type: str, resource_id: str
) -> tuple[bool, str | None]:
    """Whether the org has any row for the resource, and the newest name a row gave it."""
    params = {"org_id": org_id, "resource_type": resource_type, "resource_id": resource_id}
    row = connection.execute(_LATEST_NAME, params).first()
    return (False, None) if row is None else (True, row[0])


_INSERT = insert(AuditLog.__table__)


def insert_many(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Complete audit rows: one INSERT, executed once per row (psycopg pipelines them)."""
    session.connection().execute(_INSERT, rows[0] if len(rows) == 1 else list(rows))
