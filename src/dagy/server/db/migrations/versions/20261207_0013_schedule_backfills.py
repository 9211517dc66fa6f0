"""schedule backfills: a backfill of a schedule's past fire times and each of its fire times, held
until the scheduler releases it (at most `max_active` of a backfill's runs queued or running)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import dagy.server.db.base

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedule_backfill",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("schedule_id", sa.String(length=40), nullable=False),
        sa.Column("start_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reprocess", sa.String(length=8), nullable=False),
        sa.Column("run_order", sa.String(length=16), nullable=False),
        sa.Column("max_active", sa.Integer(), nullable=False),
        sa.Column("created_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_schedule_backfill_org_id_org"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedule.id"],
            name=op.f("fk_schedule_backfill_schedule_id_schedule"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_backfill")),
    )
    with op.batch_alter_table("schedule_backfill", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_backfill_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedule_backfill_schedule_id"), ["schedule_id"], unique=False)
    op.create_table(
        "schedule_backfill_run",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("backfill_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("scheduled_for", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["backfill_id"],
            ["schedule_backfill.id"],
            name=op.f("fk_schedule_backfill_run_backfill_id_schedule_backfill"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name=op.f("fk_schedule_backfill_run_run_id_run"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_backfill_run")),
        sa.UniqueConstraint(
            "backfill_id", "position", name=op.f("uq_schedule_backfill_run_backfill_id_position")
        ),
    )
    with op.batch_alter_table("schedule_backfill_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_schedule_backfill_run_status", ["status", "backfill_id", "position"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_schedule_backfill_run_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("schedule_backfill_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_backfill_run_run_id"))
        batch_op.drop_index("ix_schedule_backfill_run_status")
    op.drop_table("schedule_backfill_run")
    with op.batch_alter_table("schedule_backfill", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_backfill_schedule_id"))
        batch_op.drop_index(batch_op.f("ix_schedule_backfill_org_id"))
    op.drop_table("schedule_backfill")
