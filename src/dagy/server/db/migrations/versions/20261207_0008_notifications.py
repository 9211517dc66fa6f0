"""notification channels, alert rules and the alert delivery outbox

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import dagy.server.db.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_rule",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("flow_name", sa.String(length=128), nullable=True),
        sa.Column("sla_seconds", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_alert_rule_org_id_org"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rule")),
    )
    with op.batch_alter_table("alert_rule", schema=None) as batch_op:
        batch_op.create_index("ix_alert_rule_org_created", ["org_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_alert_rule_org_trigger", ["org_id", "trigger"], unique=False)

    op.create_table(
        "notification_channel",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("channel_type", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "config_public",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("config_sealed", sa.Text(), nullable=False),
        sa.Column("created_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_notification_channel_org_id_org"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_channel")),
    )
    with op.batch_alter_table("notification_channel", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_channel_org_created", ["org_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "alert_delivery",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("rule_id", sa.String(length=40), nullable=False),
        sa.Column("channel_id", sa.String(length=40), nullable=False),
        sa.Column("channel_type", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("event_key", sa.String(length=128), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channel.id"],
            name=op.f("fk_alert_delivery_channel_id_notification_channel"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_alert_delivery_org_id_org"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["alert_rule.id"],
            name=op.f("fk_alert_delivery_rule_id_alert_rule"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_delivery")),
        sa.UniqueConstraint(
            "rule_id", "channel_id", "event_key", name=op.f("uq_alert_delivery_rule_id_channel_id_event_key")
        ),
    )
    with op.batch_alter_table("alert_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_delivery_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index("ix_alert_delivery_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_alert_delivery_rule_created", ["rule_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_alert_delivery_run", ["run_id"], unique=False)

    op.create_table(
        "alert_rule_channel",
        sa.Column("rule_id", sa.String(length=40), nullable=False),
        sa.Column("channel_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channel.id"],
            name=op.f("fk_alert_rule_channel_channel_id_notification_channel"),
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["alert_rule.id"],
            name=op.f("fk_alert_rule_channel_rule_id_alert_rule"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rule_id", "channel_id", name=op.f("pk_alert_rule_channel")),
    )
    with op.batch_alter_table("alert_rule_channel", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_rule_channel_channel_id"), ["channel_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alert_rule_channel", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_rule_channel_channel_id"))

    op.drop_table("alert_rule_channel")
    with op.batch_alter_table("alert_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_delivery_run")
        batch_op.drop_index("ix_alert_delivery_rule_created")
        batch_op.drop_index("ix_alert_delivery_due")
        batch_op.drop_index(batch_op.f("ix_alert_delivery_channel_id"))

    op.drop_table("alert_delivery")
    with op.batch_alter_table("notification_channel", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_channel_org_created")

    op.drop_table("notification_channel")
    with op.batch_alter_table("alert_rule", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_rule_org_trigger")
        batch_op.drop_index("ix_alert_rule_org_created")

    op.drop_table("alert_rule")
