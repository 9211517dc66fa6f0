"""Queries for an org's custom node types and their version snapshots, always scoped by org id."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dagy.server.db.models import CustomNode, CustomNodeVersion


def list_custom(session: Session, org_id: str, *, limit: int) -> list[CustomNode]:
    stmt = (
        select(CustomNode)
        .where(CustomNode.org_id == org_id)
        .order_by(CustomNode.node_type, CustomNode.id)
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def get_custom(
    session: Session, org_id: str, node_type: str, *, for_update: bool = False
) -> CustomNode | None:
    stmt = select(CustomNode).where(CustomNode.org_id == org_id, CustomNode.node_type == node_type)
    if for_update:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def count_custom(session: Session, org_id: str) -> int:
    stmt = select(func.count()).select_from(CustomNode).where(CustomNode.org_id == org_id)
    return int(session.execute(stmt).scalar_one())


def add(session: Session, obj: CustomNode | CustomNodeVersion) -> None:
    session.add(obj)
    session.flush()


def delete(session: Session, node: CustomNode) -> None:
    session.delete(node)
    session.flush()
