"""AI Studio: sessions, their message turns (the stored answers that idempotent retries replay) and
their parsed attachments

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import dagy.server.db.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ai_studio_session",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("flow_name", sa.String(length=128), nullable=True),
        sa.Column("bound_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "canvas_state",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("pipeline_yaml", sa.Text(), nullable=True),
        sa.Column("pipeline_python", sa.Text(), nullable=True),
        sa.Column(
            "validation",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("turn_count", sa.Integer(), nullable=False),
        sa.Column("credits_used", sa.Numeric(precision=18, scale=6, asdecimal=False), nullable=False),
        sa.Column("archived_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_ai_studio_session_org_id_org"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_ai_studio_session_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_studio_session")),
    )
    with op.batch_alter_table("ai_studio_session", schema=None) as batch_op:
        batch_op.create_index("ix_ai_studio_session_flow", ["org_id", "user_id", "flow_name"], unique=False)
        batch_op.create_index("ix_ai_studio_session_listing", ["org_id", "user_id", "id"], unique=False)

    op.create_table(
        "ai_studio_attachment",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("object_key", sa.String(length=1024), nullable=False),
        sa.Column("backend_upload_id", sa.String(length=1024), nullable=True),
        sa.Column("expires_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_truncated", sa.Boolean(), nullable=False),
        sa.Column(
            "inferred_schema",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "samples",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("created_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_ai_studio_attachment_org_id_org"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ai_studio_session.id"],
            name=op.f("fk_ai_studio_attachment_session_id_ai_studio_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_studio_attachment")),
    )
    with op.batch_alter_table("ai_studio_attachment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ai_studio_attachment_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_ai_studio_attachment_session", ["session_id", "created_at"], unique=False)

    op.create_table(
        "ai_studio_turn",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("turn_id", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("intent", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("workflow_status", sa.String(length=16), nullable=True),
        sa.Column("credits_used", sa.Numeric(precision=18, scale=6, asdecimal=False), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column(
            "response_body",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("created_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", dagy.server.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_ai_studio_turn_org_id_org"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ai_studio_session.id"],
            name=op.f("fk_ai_studio_turn_session_id_ai_studio_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_studio_turn")),
        sa.UniqueConstraint(
            "session_id", "idempotency_key", name=op.f("uq_ai_studio_turn_session_id_idempotency_key")
        ),
        sa.UniqueConstraint("session_id", "turn_id", name=op.f("uq_ai_studio_turn_session_id_turn_id")),
    )
    with op.batch_alter_table("ai_studio_turn", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ai_studio_turn_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_ai_studio_turn_session", ["session_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ai_studio_turn", schema=None) as batch_op:
        batch_op.drop_index("ix_ai_studio_turn_session")
        batch_op.drop_index(batch_op.f("ix_ai_studio_turn_org_id"))

    op.drop_table("ai_studio_turn")
    with op.batch_alter_table("ai_studio_attachment", schema=None) as batch_op:
        batch_op.drop_index("ix_ai_studio_attachment_session")
        batch_op.drop_index(batch_op.f("ix_ai_studio_attachment_org_id"))

    op.drop_table("ai_studio_attachment")
    with op.batch_alter_table("ai_studio_session", schema=None) as batch_op:
        batch_op.drop_index("ix_ai_studio_session_listing")
        batch_op.drop_index("ix_ai_studio_session_flow")

    op.drop_table("ai_studio_session")
