"""Flows and their versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, TimestampMixin, id_column


class Flow(Base, TimestampMixin):
    """A named flow of an org. Namespace, tags, status and the version label are its newest
    version's, copied here so a page of `GET /flows` reads this table alone."""

    __tablename__ = "flow"
    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        Index("ix_flow_org_listing", "org_id", "id"),  # GET /flows: keyset on id within the org
    )

    id: Mapped[str] = id_column("flow")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    namespace: Mapped[str | None] = mapped_column(String(255))
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    latest_version: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")


class FlowVersion(Base, TimestampMixin):
    __tablename__ = "flow_version"
    __table_args__ = (
        UniqueConstraint("flow_id", "version"),
        UniqueConstraint("flow_id", "deployment_version"),
        # Versions fetched by id within an org (a page of deployments). An index on org_id alone
        # leads SQLite, which keeps no statistics, to scan every version of the org instead.
        Index("ix_flow_version_org_lookup", "org_id", "id"),
    )

    id: Mapped[str] = id_column("fv")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    flow_id: Mapped[str] = mapped_column(ForeignKey("flow.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(64))
    deployment_version: Mapped[int]
    flow_spec: Mapped[dict[str, Any] | None]
    artifact_s3_uri: Mapped[str | None] = mapped_column(String(1024))
    code_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    default_executor: Mapped[str | None] = mapped_column(String(64))
    schedule: Mapped[str | None] = mapped_column(String(128))
    # A code flow's parameters as JSON Schema, read at registration from its entry function's type
    # hints (domains/flows/parameters.py); SQL NULL (never JSON null) when there is nothing to check
    # a run's parameters against: a DAG flow, an artifact outside the object store.
    parameter_schema: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
    )
