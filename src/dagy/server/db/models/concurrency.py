"""Concurrency limits: how many runs of a flow, of a deployment, or holding a named pool's slots
may run at once (docs/concurrency.md), and the slots running runs hold.

A limit names its target: a flow (`flow_id`) or a deployment (`deployment_id`), each deleted with
its target, or nothing for a pool, which runs join by their tags or their flow's node types. A slot
is a row per (limit, run), taken in the claim that starts the run; only the slots of runs still
`running` count, so a run that ends, is cancelled or loses its lease gives its slots back without
anyone deleting them (the reaper's pass sweeps such rows away, services/reaper.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, TimestampMixin, id_column


class ConcurrencyLimit(Base, TimestampMixin):
    __tablename__ = "concurrency_limit"
    __table_args__ = (UniqueConstraint("org_id", "kind", "name"),)

    id: Mapped[str] = id_column("climit")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # flow | deployment | pool
    name: Mapped[str] = mapped_column(String(128))  # the flow's, the deployment's or the pool's
    flow_id: Mapped[str | None] = mapped_column(ForeignKey("flow.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str | None] = mapped_column(
        ForeignKey("deployment.id", ondelete="CASCADE"), index=True
    )
    slots: Mapped[int] = mapped_column(Integer)
    collision_strategy: Mapped[str] = mapped_column(String(16), default="enqueue")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    node_types: Mapped[list[Any]] = mapped_column(default=list)
    description: Mapped[str | None] = mapped_column(String(500))


class ConcurrencySlot(Base):
    __tablename__ = "concurrency_slot"

    limit_id: Mapped[str] = mapped_column(
        ForeignKey("concurrency_limit.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[str] = mapped_column(
        ForeignKey("run.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    acquired_at: Mapped[datetime]
