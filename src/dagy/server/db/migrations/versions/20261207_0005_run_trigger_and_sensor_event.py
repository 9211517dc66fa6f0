"""what started a run: its trigger, and a sensed run's event; the worker of a node run

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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
    with op.batch_alter_table("node_run", schema=None) as batch_op:
        batch_op.drop_column("worker_id")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("sensor_event_id")
        batch_op.drop_column("trigger")
