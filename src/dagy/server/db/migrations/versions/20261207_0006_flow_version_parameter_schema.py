"""a code flow version's parameter schema, read from its entry function's type hints

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Versions registered before have none (SQL NULL): their runs' parameters are not checked.
    with op.batch_alter_table("flow_version", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "parameter_schema",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("flow_version", schema=None) as batch_op:
        batch_op.drop_column("parameter_schema")
