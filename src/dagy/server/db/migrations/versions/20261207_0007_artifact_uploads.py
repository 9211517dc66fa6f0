"""multipart artifact uploads in progress

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dagy.server.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "artifact_upload",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("artifact_key", sa.String(length=1024), nullable=False),
        sa.Column("flow_name", sa.String(length=128), nullable=False),
        sa.Column("flow_version", sa.String(length=64), nullable=False),
        sa.Column("deployment_name", sa.String(length=128), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("part_size", sa.BigInteger(), nullable=False),
        sa.Column("part_count", sa.Integer(), nullable=False),
        sa.Column("backend_upload_id", sa.String(length=1024), nullable=True),
        sa.Column("created_by", sa.String(length=320), nullable=True),
        sa.Column("created_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_artifact_upload_org_id_org"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifact_upload")),
    )
    with op.batch_alter_table("artifact_upload", schema=None) as batch_op:
        batch_op.create_index("ix_artifact_upload_abandoned", ["status", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_artifact_upload_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("artifact_upload", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artifact_upload_org_id"))
        batch_op.drop_index("ix_artifact_upload_abandoned")
    op.drop_table("artifact_upload")
