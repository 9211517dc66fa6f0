"""Queries for channels, alert rules and deliveries, scoped by org id (the dispatcher's and the SLA
checker's claims alone span orgs)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, exists, select, update
from sqlalchemy.orm import Session, aliased

from dagy.server.api.pagination import KeysetQuery
from dagy.server.db.models import AlertDelivery, AlertRule, AlertRuleChannel, NotificationChannel, Run
from dagy.server.db.reads import read_timestamp

PENDING, SENT, FAILED = "pending", "sent", "failed"
RESOLVE = "resolve"


# --- Channels --------------------------------------------------------------------------------


def get_channel(session: Session, org_id: str, channel_id: str) -> NotificationChannel | None:
    stmt = select(NotificationChannel).where(
        NotificationChannel.org_id == org_id, NotificationChannel.id == channel_id
    )
    return session.execute(stmt).scalar_one_or_none()


def channels_by_id(session: Session, org_id: str, ids: Iterable[str]) -> dict[str, NotificationChannel]:
    stmt = select(NotificationChannel).where(
        NotificationChannel.org_id == org_id, NotificationChannel.id.in_(list(ids))
    )
    return {channel.id: channel for channel in session.execute(stmt).scalars()}


CHANNEL_PAGES = KeysetQuery(
    select(
        NotificationChannel.id,
        NotificationChannel.name,
        NotificationChannel.channel_type,
        NotificationChannel.enabled,
        read_timestamp(NotificationChannel.created_at),
    ).where(NotificationChannel.org_id == bindparam("org_id")),
    order_by=[NotificationChannel.created_at, NotificationChannel.id],
)


def rules_using_channel(session: Session, channel_id: str) -> list[str]:
    stmt = (
        select(AlertRule.name)
        .join(AlertRuleChannel, AlertRuleChannel.rule_id == AlertRule.id)
        .where(AlertRuleChannel.channel_id == channel_id)
        .order_by(AlertRule.name)
    )
    return list(session.execute(stmt).scalars())


# --- Rules -----------------------------------------------------------------------------------


def get_rule(session: Session, org_id: str, rule_id: str) -> AlertRule | None:
    stmt = select(AlertRule).where(AlertRule.org_id == org_id, AlertRule.id == rule_id)
    return session.execute(stmt).scalar_one_or_none()


def rule_channel_ids(session: Session | Connection, rule_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each rule's channel ids, in the order the rule gave them."""
    found: dict[str, list[str]] = {rule_id: [] for rule_id in rule_ids}
    if not rule_ids:
        return found
    stmt = (
        select(AlertRuleChannel.rule_id, AlertRuleChannel.channel_id)
        .where(AlertRuleChannel.rule_id.in_(list(rule_ids)))
        .order_by(AlertRuleChannel.rule_id, AlertRuleChannel.position)
    )
    for rule_id, channel_id in session.execute(stmt):
        found[rule_id].append(channel_id)
    return found


def set_rule_channels(session: Session, rule_id: str, channel_ids: Sequence[str]) -> None:
    session.execute(delete(AlertRuleChannel).where(AlertRuleChannel.rule_id == rule_id))
    session.add_all(
        AlertRuleChannel(rule_id=rule_id, channel_id=channel_id, position=position)
        for position, channel_id in enumerate(channel_ids)
    )
    session.flush()


RULE_PAGES = KeysetQuery(
    select(
        AlertRule.id,
        AlertRule.name,
        AlertRule.trigger,
        AlertRule.flow_name,
        AlertRule.enabled,
        read_timestamp(AlertRule.created_at),
    ).where(AlertRule.org_id == bindparam("org_id")),
    order_by=[AlertRule.created_at, AlertRule.id],
)

_RULE_ID = select(AlertRule.id).where(
    AlertRule.org_id == bindparam("org_id"), AlertRule.id == bindparam("rule_id")
)


def rule_exists(connection: Connection, org_id: str, rule_id: str) -> bool:
    return connection.execute(_RULE_ID, {"org_id": org_id, "rule_id": rule_id}).first() is not None


def add(session: Session, row: NotificationChannel | AlertRule) -> None:
    session.add(row)
    session.flush()


def remove(session: Session, row: NotificationChannel | AlertRule) -> None:
    session.delete(row)
    session.flush()


# --- Deliveries ------------------------------------------------------------------------------

DELIVERY_PAGES = KeysetQuery(
    select(
        AlertDelivery.id,
        read_timestamp(AlertDelivery.created_at),
        AlertDelivery.channel_id,
        AlertDelivery.channel_type,
        AlertDelivery.run_id,
        AlertDelivery.event,
        AlertDelivery.status,
        AlertDelivery.attempts,
        read_timestamp(AlertDelivery.next_attempt_at),
        AlertDelivery.last_error,
        read_timestamp(AlertDelivery.sent_at),
    ).where(AlertDelivery.rule_id == bindparam("rule_id")),
    order_by=[AlertDelivery.created_at, AlertDelivery.id],
)


def lock_due(session: Session, *, now: datetime, limit: int) -> list[AlertDelivery]:
    """Pending deliveries due by `now`, oldest due first, locked for this transaction; on PostgreSQL
    rows another dispatcher holds are passed by (SKIP LOCKED). SQLite runs the claim inside its
    `BEGIN IMMEDIATE` write transaction, which serialises dispatchers. A PagerDuty `resolve` waits
    while its run's incident is still being opened on that channel (a resolve that overtakes its
    trigger would leave the incident open)."""
    opening = aliased(AlertDelivery)
    still_opening = exists().where(
        opening.channel_id == AlertDelivery.channel_id,
        opening.run_id == AlertDelivery.run_id,
        opening.status == PENDING,
        opening.event != RESOLVE,
    )
    stmt = (
        select(AlertDelivery)
        .where(
            AlertDelivery.status == PENDING,
            AlertDelivery.next_attempt_at <= now,
            ~and_(AlertDelivery.event == RESOLVE, still_opening),
        )
        .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.execute(stmt).scalars())


def channels_of(session: Session, ids: Iterable[str]) -> dict[str, NotificationChannel]:
    """Channels by id, whatever their org (the dispatcher's deliveries carry their org)."""
    stmt = select(NotificationChannel).where(NotificationChannel.id.in_(list(ids)))
    return {channel.id: channel for channel in session.execute(stmt).scalars()}


def record_outcomes(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write each attempt's outcome (`id`, `status`, `next_attempt_at`, `last_error`, `sent_at`,
    `updated_at`) to a delivery still pending: one statement, executed once per row."""
    if not rows:
        return
    stmt = (
        update(AlertDelivery.__table__)
        .where(
            AlertDelivery.__table__.c.id == bindparam("delivery_id"),
            AlertDelivery.__table__.c.status == PENDING,
        )
        .values(
            status=bindparam("new_status"),
            next_attempt_at=bindparam("new_next_attempt_at"),
            last_error=bindparam("new_last_error"),
            sent_at=bindparam("new_sent_at"),
            updated_at=bindparam("new_updated_at"),
        )
    )
    session.connection().execute(
        stmt, [{"delivery_id": r["id"], **{f"new_{k}": v for k, v in r.items() if k != "id"}} for r in rows]
    )


# --- SLA -------------------------------------------------------------------------------------


def sla_rules(session: Session) -> list[AlertRule]:
    stmt = select(AlertRule).where(
        AlertRule.trigger == "on_sla_breach", AlertRule.enabled.is_(True), AlertRule.sla_seconds.is_not(None)
    )
    return list(session.execute(stmt).scalars())


def runs_past_sla(session: Session, rule: AlertRule, *, created_before: datetime, limit: int) -> list[Run]:
    """Queued or running runs of the rule's org (and flow) created before `created_before`, which the
    rule has not alerted on yet."""
    alerted = exists().where(
        AlertDelivery.rule_id == rule.id,
        AlertDelivery.run_id == Run.id,
        AlertDelivery.event == "on_sla_breach",
    )
    stmt = select(Run).where(
        Run.org_id == rule.org_id,
        Run.status.in_(("queued", "running")),
        Run.created_at <= created_before,
        ~alerted,
    )
    if rule.flow_name is not None:
        stmt = stmt.where(Run.flow_name == rule.flow_name)
    return list(session.execute(stmt.order_by(Run.created_at, Run.id).limit(limit)).scalars())
