"""run approvals: what a waiting run waits for (`run.waiting_for`) and each wait of an approval node
with its decision (`run_approval`)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import dagy.server.db.base

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_for", _JSON, nullable=True))
    op.create_table(
        "run_approval",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("node_id", sa.String(length=128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("requested_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("timeout_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("decided_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name=op.f("fk_run_approval_run_id_run"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_approval")),
    )
    with op.batch_alter_table("run_approval", schema=None) as batch_op:
        batch_op.create_index("ix_run_approval_pending", ["decided_at", "timeout_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_run_approval_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("run_approval", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_approval_run_id"))
        batch_op.drop_index("ix_run_approval_pending")
    op.drop_table("run_approval")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("waiting_for")
