"""A run's approvals: each wait of an approval node for a decision, and the decision once made
(docs/node-types/approval.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, id_column


class RunApproval(Base):
    """One wait of an approval node: written when the run's attempt pauses there, decided once (by a
    member, or by its timeout). Undecided rows are the timeout pass's work list
    (`ix_run_approval_pending`); a cancelled run's undecided row is deleted with the cancel."""

    __tablename__ = "run_approval"
    __table_args__ = (Index("ix_run_approval_pending", "decided_at", "timeout_at"),)

    id: Mapped[str] = id_column("apr")
    run_id: Mapped[str] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int] = mapped_column(Integer)  # the attempt that paused
    requested_at: Mapped[datetime]
    timeout_at: Mapped[datetime]
    decision: Mapped[str | None] = mapped_column(String(16))  # approved | rejected; null while waiting
    actor: Mapped[str | None] = mapped_column(String(320))  # who decided; null when the timeout did
    comment: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
