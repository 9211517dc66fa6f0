"""usage metering, roll-ups, the monthly run counter, billing fields of orgs and Stripe events

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import dagy.server.db.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_event",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=True),
        sa.Column("received_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_event")),
    )
    op.create_table(
        "usage_rollup",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("computed_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_usage_rollup")),
    )
    op.create_table(
        "usage_counter",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("api_calls", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("errors", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_usage_counter_org_id_org"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "day", name=op.f("pk_usage_counter")),
    )
    op.create_table(
        "usage_daily",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("flow_name", sa.String(length=128), nullable=False),
        sa.Column("executor", sa.String(length=64), nullable=False),
        sa.Column("execution_mode", sa.String(length=16), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("failed_runs", sa.Integer(), nullable=False),
        sa.Column("node_runs", sa.Integer(), nullable=False),
        sa.Column("compute_seconds", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_usage_daily_org_id_org"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "org_id", "day", "flow_name", "executor", "execution_mode", name=op.f("pk_usage_daily")
        ),
    )
    op.create_table(
        "usage_month",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("runs", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_usage_month_org_id_org"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "month", name=op.f("pk_usage_month")),
    )
    with op.batch_alter_table("org", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "quota_overrides",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                server_default="{}",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("billing_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("stripe_customer_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("stripe_subscription_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("subscription_status", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("billing_period_start", dagy.server.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("billing_period_end", dagy.server.db.base.UTCDateTime(timezone=True), nullable=True)
        )

    op.create_index("ix_run_org_created", "run", ["org_id", "created_at"], unique=False)
    op.create_index("ix_run_org_status", "run", ["org_id", "status"], unique=False)
    # Both serve what the index on org_id alone served; one index fewer to write per run.
    op.drop_index("ix_run_org_id", table_name="run")


def downgrade() -> None:
    op.create_index("ix_run_org_id", "run", ["org_id"], unique=False)
    op.drop_index("ix_run_org_status", table_name="run")
    op.drop_index("ix_run_org_created", table_name="run")

    with op.batch_alter_table("org", schema=None) as batch_op:
        batch_op.drop_column("billing_period_end")
        batch_op.drop_column("billing_period_start")
        batch_op.drop_column("subscription_status")
        batch_op.drop_column("stripe_subscription_id")
        batch_op.drop_column("stripe_customer_id")
        batch_op.drop_column("billing_email")
        batch_op.drop_column("quota_overrides")

    op.drop_table("usage_month")
    op.drop_table("usage_daily")
    op.drop_table("usage_counter")
    op.drop_table("usage_rollup")
    op.drop_table("billing_event")
