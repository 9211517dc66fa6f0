"""The visual builder's drafts and the org's custom node types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, TimestampMixin, id_column, utcnow


class DagDraft(Base, TimestampMixin):
    __tablename__ = "dag_draft"
    __table_args__ = (Index("ix_dag_draft_org_listing", "org_id", "id"),)  # keyset pages per org

    id: Mapped[str] = id_column("draft")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    canvas_json: Mapped[dict[str, Any]]
    flow_name: Mapped[str | None] = mapped_column(String(128))
    executor: Mapped[str | None] = mapped_column(String(64))


class CustomNode(Base, TimestampMixin):
    """An org's own node type: its definition in the registry's shape, versioned on every update."""

    __tablename__ = "custom_node"
    __table_args__ = (UniqueConstraint("org_id", "node_type"),)

    id: Mapped[str] = id_column("cnode")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    node_type: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=1)


class CustomNodeVersion(Base):
    """The definition a custom node had before an update (snapshot taken first)."""

    __tablename__ = "custom_node_version"
    __table_args__ = (UniqueConstraint("custom_node_id", "version"),)

    id: Mapped[str] = id_column("cnodev")
    custom_node_id: Mapped[str] = mapped_column(ForeignKey("custom_node.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
