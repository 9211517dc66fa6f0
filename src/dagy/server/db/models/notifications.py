"""Notification channels, alert rules and the delivery outbox (DESIGN.md §4, docs/alerts.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, TimestampMixin, id_column, utcnow


class NotificationChannel(Base, TimestampMixin):
    """Where alerts go. `config_public` is the config with its credentials masked (what GET shows);
    `config_sealed` the whole config, encrypted under the org's data key and bound to this row."""

    __tablename__ = "notification_channel"
    __table_args__ = (Index("ix_notification_channel_org_created", "org_id", "created_at", "id"),)

    id: Mapped[str] = id_column("channel")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    channel_type: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(default=True)
    config_public: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config_sealed: Mapped[str] = mapped_column(Text)


class AlertRule(Base, TimestampMixin):
    """Which run events (`trigger`, of one flow or of all when `flow_name` is null) go to which
    channels. Looked up on every alerting transition by (org, trigger)."""

    __tablename__ = "alert_rule"
    __table_args__ = (
        Index("ix_alert_rule_org_trigger", "org_id", "trigger"),
        Index("ix_alert_rule_org_created", "org_id", "created_at", "id"),
    )

    id: Mapped[str] = id_column("rule")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    trigger: Mapped[str] = mapped_column(String(32))
    flow_name: Mapped[str | None] = mapped_column(String(128))
    sla_seconds: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(default=True)


class AlertRuleChannel(Base):
    """A channel of a rule. A channel in use cannot be deleted (409, docs/alerts.md); the foreign key
    (NO ACTION, checked at the end of a statement, so an org's deletion cascading to both passes)
    says so again."""

    __tablename__ = "alert_rule_channel"

    rule_id: Mapped[str] = mapped_column(ForeignKey("alert_rule.id", ondelete="CASCADE"), primary_key=True)
    channel_id: Mapped[str] = mapped_column(
        ForeignKey("notification_channel.id"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class AlertDelivery(Base):
    """One message for one channel: the outbox row written in the transaction of the run event,
    sent by the dispatcher. `status`: pending | sent | failed. A pending row is due at
    `next_attempt_at`; a dispatcher that takes it moves that time past its send (a lease), so a
    crashed dispatcher's rows are taken again. `event_key` makes an event's row unique per rule and
    channel (a run's SLA breach fires once, a repeated transition writes nothing twice)."""

    __tablename__ = "alert_delivery"
    __table_args__ = (
        UniqueConstraint("rule_id", "channel_id", "event_key"),
        Index("ix_alert_delivery_due", "status", "next_attempt_at"),
        Index("ix_alert_delivery_rule_created", "rule_id", "created_at", "id"),
        Index("ix_alert_delivery_run", "run_id"),
    )

    id: Mapped[str] = id_column("dlv")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(ForeignKey("alert_rule.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(
        ForeignKey("notification_channel.id", ondelete="CASCADE"), index=True
    )
    channel_type: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[str] = mapped_column(String(40))  # no foreign key: the message outlives the run
    event: Mapped[str] = mapped_column(String(32))  # a trigger, or `resolve` (PagerDuty)
    event_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
