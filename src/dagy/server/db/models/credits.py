"""The credits ledger: every change to an org's credits balance, who made it and why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, id_column, utcnow
from dagy.server.db.models.identity import CREDITS


class CreditEntry(Base):
    __tablename__ = "credit_entry"
    __table_args__ = (Index("ix_credit_entry_org_created", "org_id", "created_at"),)

    id: Mapped[str] = id_column("credit")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    amount: Mapped[float] = mapped_column(CREDITS)
    balance_after: Mapped[float] = mapped_column(CREDITS)
    reason: Mapped[str | None] = mapped_column(String(500))
    actor_email: Mapped[str | None] = mapped_column(String(254))  # None: charged by the product itself
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
