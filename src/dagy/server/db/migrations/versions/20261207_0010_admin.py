"""super admin: feature flags, notes and the credits balance of orgs, the credits ledger, and an
index on the org's status (the suspension condition of the claim, scheduler and sensor queries)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import dagy.server.db.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREDITS = sa.Numeric(precision=18, scale=6, asdecimal=False)


def upgrade() -> None:
    op.create_table(
        "credit_entry",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("amount", CREDITS, nullable=False),
        sa.Column("balance_after", CREDITS, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("actor_email", sa.String(length=254), nullable=True),
        sa.Column("created_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_credit_entry_org_id_org"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_entry")),
    )
    op.create_index("ix_credit_entry_org_created", "credit_entry", ["org_id", "created_at"], unique=False)
    with op.batch_alter_table("org", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "feature_flags",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                server_default="{}",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("notes", sa.String(length=4000), nullable=True))
        batch_op.add_column(sa.Column("credits_balance", CREDITS, server_default="0", nullable=False))
        batch_op.create_index(batch_op.f("ix_org_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("org", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_status"))
        batch_op.drop_column("credits_balance")
        batch_op.drop_column("notes")
        batch_op.drop_column("feature_flags")
    op.drop_index("ix_credit_entry_org_created", table_name="credit_entry")
    op.drop_table("credit_entry")
