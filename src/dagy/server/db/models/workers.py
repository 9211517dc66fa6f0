"""The workers the server has heard from: each claim and heartbeat says so (`GET /v1/workers`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base


class Worker(Base):
    __tablename__ = "worker"
    __table_args__ = (Index("ix_worker_seen", "last_seen_at"),)

    # `<org id or *>/<worker id>`: a worker id is the worker's own choice, unique within its scope.
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(128))
    # The org whose API key it holds; None: the installation's worker token (every org's runs).
    org_id: Mapped[str | None] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    executor: Mapped[str] = mapped_column(String(64))
    concurrency: Mapped[int] = mapped_column(Integer)
    isolation: Mapped[str | None] = mapped_column(String(16))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
