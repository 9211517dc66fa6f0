"""Queries over the audit trail, always scoped by org id, newest first.

`ix_audit_log_org_timestamp` serves the org-wide list and `ix_audit_log_org_resource` one
resource's trail; the other filters narrow rows already reached through those indexes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dagy.server.api.pagination import Page, PageRequest, paginate
from dagy.server.db.models import AuditLog

T = TypeVar("T")

_ORDER = [AuditLog.timestamp, AuditLog.id]


def list_page(
    session: Session,
    org_id: str,
    *,
    page: PageRequest,
    to_item: Callable[[AuditLog], T],
    resource_type: str | None = None,
    action: str | None = None,
    actor_email: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Page[T]:
    stmt = select(AuditLog).where(AuditLog.org_id == org_id)
    if resource_type is not None:
        stmt = stmt.where(AuditLog.resource_type == resource_type)
    if action is not None:
        stmt = stmt.where(AuditLog.action == action)
    if actor_email is not None:
        stmt = stmt.where(AuditLog.actor_email == actor_email)
    if start is not None:
        stmt = stmt.where(AuditLog.timestamp >= start)
    if end is not None:
        stmt = stmt.where(AuditLog.timestamp <= end)
    return paginate(session, stmt, order_by=_ORDER, page=page, to_item=to_item)


def resource_page(
    session: Session,
    org_id: str,
    resource_type: str,
    resource_id: str,
    *,
    page: PageRequest,
    to_item: Callable[[AuditLog], T],
) -> Page[T]:
    stmt = select(AuditLog).where(
        AuditLog.org_id == org_id,
        AuditLog.resource_type == resource_type,
        AuditLog.resource_id == resource_id,
    )
    return paginate(session, stmt, order_by=_ORDER, page=page, to_item=to_item)


def latest_resource_name(
    session: Session, org_id: str, resource_type: str, resource_id: str
) -> tuple[bool, str | None]:
    """Whether the org has any row for the resource, and the newest name a row gave it."""
    stmt = (
        select(AuditLog.resource_name)
        .where(
            AuditLog.org_id == org_id,
            AuditLog.resource_type == resource_type,
            AuditLog.resource_id == resource_id,
        )
        .order_by(AuditLog.resource_name.is_(None), AuditLog.timestamp.desc(), AuditLog.id.desc())
        .limit(1)
    )
    row = session.execute(stmt).first()
    return (False, None) if row is None else (True, row[0])


_INSERT = insert(AuditLog.__table__)


def insert_many(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Complete audit rows: one INSERT, executed once per row (psycopg pipelines them)."""
    session.connection().execute(_INSERT, rows[0] if len(rows) == 1 else list(rows))
