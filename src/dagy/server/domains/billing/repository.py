"""Queries for billing: an org's billing fields, the Stripe events already handled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dagy.server.db.models import BillingEvent, Org


def get_org(session: Session, org_id: str, *, lock: bool = False) -> Org | None:
    statement = select(Org).where(Org.id == org_id)
    if lock:
        statement = statement.with_for_update()
    return session.execute(statement).scalar_one_or_none()


def find_org_for_stripe(
    session: Session, *, customer_id: str | None, subscription_id: str | None
) -> Org | None:
    conditions = []
    if subscription_id:
        conditions.append(Org.stripe_subscription_id == subscription_id)
    if customer_id:
        conditions.append(Org.stripe_customer_id == customer_id)
    if not conditions:
        return None
    return session.execute(select(Org).where(or_(*conditions)).limit(1)).scalar_one_or_none()


def add_event(session: Session, *, event_id: str, event_type: str, org_id: str | None, now: datetime) -> bool:
    """Record a Stripe event; False when it was already recorded (a replayed delivery)."""
    values = {"id": event_id, "type": event_type[:128], "org_id": org_id, "received_at": now}
    dialect = session.get_bind().dialect.name
    insert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(BillingEvent.__table__)
    statement = insert.values(**values).on_conflict_do_nothing().returning(BillingEvent.__table__.c.id)
    return session.connection().execute(statement).first() is not None
