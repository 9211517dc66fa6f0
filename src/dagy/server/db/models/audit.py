"""The audit trail: one row per create/update/delete/execute, written in the change's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, id_column, utcnow


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_org_resource", "org_id", "resource_type", "resource_id"),
        Index("ix_audit_log_org_timestamp", "org_id", "timestamp"),
    )

    id: Mapped[str] = id_column("audit")
    org_id: Mapped[str | None] = mapped_column(String(40))
    timestamp: Mapped[datetime] = mapped_column(default=utcnow)
    actor_email: Mapped[str | None] = mapped_column(String(254))
    actor_type: Mapped[str] = mapped_column(String(16))  # user | api_key | worker | system
    action: Mapped[str] = mapped_column(String(32))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(128))
    resource_name: Mapped[str | None] = mapped_column(String(255))
    changes: Mapped[dict[str, Any]]
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
