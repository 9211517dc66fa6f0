"""what started a run: its trigger, and a sensed run's event; the worker of a node run; the
workers the server has heard from

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dagy.server.db.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("worker_id", sa.String(length=128), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=True),
        sa.Column("executor", sa.String(length=64), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("isolation", sa.String(length=16), nullable=True),
        sa.Column("first_seen_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["org.id"], name=op.f("fk_worker_org_id_org"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker")),
    )
    with op.batch_alter_table("worker", schema=None) as batch_op:
        batch_op.create_index("ix_worker_seen", ["last_seen_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_worker_org_id"), ["org_id"], unique=False)
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trigger", sa.String(length=16), server_default="manual", nullable=False)
        )
        batch_op.add_column(sa.Column("sensor_event_id", sa.String(length=40), nullable=True))
    with op.batch_alter_table("node_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worker_id", sa.String(length=128), nullable=True))
    # Runs recorded before: a schedule's or a sensor's by the row that started them.
    op.execute("UPDATE run SET trigger = 'schedule' WHERE schedule_id IS NOT NULL")
    op.execute(
        "UPDATE run SET trigger = CASE WHEN sensor_id IN "
        "(SELECT id FROM sensor WHERE sensor_type = 'webhook') THEN 'webhook' ELSE 'sensor' END "
        "WHERE sensor_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("worker", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_worker_org_id"))
        batch_op.drop_index("ix_worker_seen")
    op.drop_table("worker")
    with op.batch_alter_table("node_run", schema=None) as batch_op:
        batch_op.drop_column("worker_id")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("sensor_event_id")
        batch_op.drop_column("trigger")
