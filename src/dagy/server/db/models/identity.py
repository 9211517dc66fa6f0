"""Users, orgs, memberships, login sessions and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Numeric,
    SQLColumnExpression,
    String,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from dagy.server.db.base import Base, TimestampMixin, id_column, utcnow


class User(Base, TimestampMixin):
    __tablename__ = "user"

    id: Mapped[str] = id_column("user")
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    last_login_at: Mapped[datetime | None]


# Credits: exact decimals on PostgreSQL, read as floats.
CREDITS = Numeric(18, 6, asdecimal=False)


class Org(Base, TimestampMixin):
    __tablename__ = "org"

    id: Mapped[str] = id_column("org")
    name: Mapped[str] = mapped_column(String(128), unique=True)
    plan: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)  # in_unsuspended_org
    owner_email: Mapped[str] = mapped_column(String(254))
    # Billing (docs/usage-and-billing.md): limits replacing the plan's, the Stripe customer and
    # subscription, and the subscription's state as Stripe's webhooks last told it.
    quota_overrides: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    billing_email: Mapped[str | None] = mapped_column(String(254))
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    subscription_status: Mapped[str | None] = mapped_column(String(32))
    billing_period_start: Mapped[datetime | None]
    billing_period_end: Mapped[datetime | None]
    # Set by super admins (docs/admin.md): feature switches, a note, and the credits balance that
    # `domains/credits` charges and adjusts (never below zero; every change in `credit_entry`).
    feature_flags: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    notes: Mapped[str | None] = mapped_column(String(4000))
    credits_balance: Mapped[float] = mapped_column(CREDITS, default=0.0, server_default="0")


ORG_ACTIVE = "active"
ORG_SUSPENDED = "suspended"


def in_unsuspended_org(org_id: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """`org_id NOT IN (SELECT id FROM org WHERE status = 'suspended')`: the condition the claim,
    scheduler and sensor queries add so that a suspended org's work waits. The subquery is
    evaluated once per statement (a hashed subplan on PostgreSQL) over the few suspended orgs, and
    takes no row lock (docs/admin.md)."""
    return org_id.not_in(select(Org.id).where(Org.status == ORG_SUSPENDED))


class Membership(Base, TimestampMixin):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("org_id", "user_id"),)

    id: Mapped[str] = id_column("member")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # invited | active
    joined_at: Mapped[datetime | None]
    invitation_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    invitation_expires_at: Mapped[datetime | None]


class AuthSession(Base):
    """A login: the bearer token is stored only as its SHA-256."""

    __tablename__ = "auth_session"

    id: Mapped[str] = id_column("sess")
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))


class ApiKey(Base):
    """An org's API key: hashed, with a clear prefix for recognition and scopes it may use."""

    __tablename__ = "api_key"

    id: Mapped[str] = id_column("key")
    org_id: Mapped[str] = mapped_column(ForeignKey("org.id", ondelete="CASCADE"), index=True)
    created_by_user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(64))
    environment: Mapped[str] = mapped_column(String(32))
    scopes: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
