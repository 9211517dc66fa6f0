"""Metering and billing: the monthly run counter quotas check, the API call and error counters,
the daily roll-ups and the Stripe events already handled (docs/usage-and-billing.md)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, utcnow


class UsageMonth(Base):
    """Runs an org created (to execute) in one calendar month (UTC): the counter `POST /runs` and
    every other run-creating path update in the run's own transaction, with a conditional UPDATE
    that admits a run only while the count stays within the org's monthly limit."""

    __tablename__ = "usage_month"

    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # the month's first day
    runs: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)


class UsageCounter(Base):
    """API calls and errors of an org on one day (UTC), added to by the servers' meters."""

    __tablename__ = "usage_counter"

    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    api_calls: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    errors: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)


class UsageDaily(Base):
    """One day's runs, node runs and compute of an org, per flow, executor and execution mode:
    recomputed from the run and node-run rows by the roll-up (never incremented)."""

    __tablename__ = "usage_daily"

    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    flow_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    executor: Mapped[str] = mapped_column(String(64), primary_key=True)
    execution_mode: Mapped[str] = mapped_column(String(16), primary_key=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failed_runs: Mapped[int] = mapped_column(Integer, default=0)
    node_runs: Mapped[int] = mapped_column(Integer, default=0)
    compute_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class UsageRollup(Base):
    """When the roll-up last recomputed a day: days without a row are computed live on read."""

    __tablename__ = "usage_rollup"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class BillingEvent(Base):
    """A Stripe event handled once: its id is the key a replayed delivery meets."""

    __tablename__ = "billing_event"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Stripe's event id
    type: Mapped[str] = mapped_column(String(128))
    org_id: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
