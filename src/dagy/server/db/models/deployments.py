"""Environments and the deployments that place a flow version in one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, TimestampMixin, id_column


class Environment(Base, TimestampMixin):
    __tablename__ = "environment"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = id_column("env")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    default_executor: Mapped[str | None] = mapped_column(String(64))
    config_json: Mapped[dict[str, Any]] = mapped_column(default=dict)
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_protected: Mapped[bool] = mapped_column(default=False)
    promotion_order: Mapped[int | None] = mapped_column(Integer)


class Deployment(Base, TimestampMixin):
    __tablename__ = "deployment"
    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        Index("ix_deployment_org_environment", "org_id", "environment_id", "name"),
        Index("ix_deployment_org_flow", "org_id", "flow_id"),
    )

    id: Mapped[str] = id_column("deploy")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    flow_id: Mapped[str] = mapped_column(ForeignKey("flow.id", ondelete="CASCADE"), index=True)
    flow_version_id: Mapped[str] = mapped_column(ForeignKey("flow_version.id", ondelete="CASCADE"))
    environment_id: Mapped[str | None] = mapped_column(ForeignKey("environment.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    schedule: Mapped[str | None] = mapped_column(String(128))
    default_executor: Mapped[str | None] = mapped_column(String(64))
    execution_mode: Mapped[str] = mapped_column(String(16), default="nano")
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dep_package_slugs: Mapped[list[Any]] = mapped_column(default=list)
    max_retries: Mapped[int] = mapped_column(Integer, default=0)
    promoted_from_env: Mapped[str | None] = mapped_column(String(64))
    promoted_from_deployment: Mapped[str | None] = mapped_column(String(128))
    promoted_at: Mapped[datetime | None]
