"""concurrency limits: per flow, per deployment and named pools, and the slots running runs hold

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import dagy.server.db.base

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "concurrency_limit",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("flow_id", sa.String(length=40), nullable=True),
        sa.Column("deployment_id", sa.String(length=40), nullable=True),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("collision_strategy", sa.String(length=16), nullable=False),
        sa.Column("tags", _JSON, nullable=False),
        sa.Column("node_types", _JSON, nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("created_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployment.id"],
            name=op.f("fk_concurrency_limit_deployment_id_deployment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flow.id"], name=op.f("fk_concurrency_limit_flow_id_flow"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_concurrency_limit_org_id_org"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concurrency_limit")),
        sa.UniqueConstraint("org_id", "kind", "name", name=op.f("uq_concurrency_limit_org_id_kind_name")),
    )
    with op.batch_alter_table("concurrency_limit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_concurrency_limit_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_concurrency_limit_flow_id"), ["flow_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_concurrency_limit_deployment_id"), ["deployment_id"], unique=False
        )
    op.create_table(
        "concurrency_slot",
        sa.Column("limit_id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("acquired_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["limit_id"],
            ["concurrency_limit.id"],
            name=op.f("fk_concurrency_slot_limit_id_concurrency_limit"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name=op.f("fk_concurrency_slot_run_id_run"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("limit_id", "run_id", name=op.f("pk_concurrency_slot")),
    )
    with op.batch_alter_table("concurrency_slot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_concurrency_slot_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("concurrency_slot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_concurrency_slot_run_id"))
    op.drop_table("concurrency_slot")
    with op.batch_alter_table("concurrency_limit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_concurrency_limit_deployment_id"))
        batch_op.drop_index(batch_op.f("ix_concurrency_limit_flow_id"))
        batch_op.drop_index(batch_op.f("ix_concurrency_limit_org_id"))
    op.drop_table("concurrency_limit")
