"""Initial schema: system_settings, seeded with core.version.

Revision ID: 20251107000000
Revises:
Create Date: 2025-11-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "20251107000000"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "system_settings",
        sa.Column("key", sa.String(length=128), primary_key=True),
        sa.Column("value", postgresql.JSONB(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
    )
    # entrypoint.py keeps core.version equal to the running platform version after each upgrade.
    op.execute(
        "INSERT INTO system_settings (key, value, description) "
        "VALUES ('core.version', '\"1.0.0\"'::jsonb, 'Platform version of the last migration run')"
    )


def downgrade() -> None:
    op.drop_table("system_settings")
