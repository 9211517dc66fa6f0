"""Retention: per-org retention settings, and the indexes the purge's run cascades need

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dagy.server.db.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "org_retention",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("runs_days", sa.Integer(), nullable=True),
        sa.Column("logs_days", sa.Integer(), nullable=True),
        sa.Column("node_outputs_days", sa.Integer(), nullable=True),
        sa.Column("audit_days", sa.Integer(), nullable=True),
        sa.Column("sensor_events_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_org_retention_org_id_org"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_org_retention")),
    )
    with op.batch_alter_table("schedule_fire", schema=None) as batch_op:
        batch_op.create_index("ix_schedule_fire_run", ["run_id"], unique=False)
    with op.batch_alter_table("sensor_event", schema=None) as batch_op:
        batch_op.create_index("ix_sensor_event_run", ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sensor_event", schema=None) as batch_op:
        batch_op.drop_index("ix_sensor_event_run")
    with op.batch_alter_table("schedule_fire", schema=None) as batch_op:
        batch_op.drop_index("ix_schedule_fire_run")
    op.drop_table("org_retention")
