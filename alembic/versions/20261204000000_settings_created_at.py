"""system_settings.created_at: when a setting was first written (1.1.0, expand only).

A nullable column without a default is a catalog-only change: the ALTER needs its ACCESS
EXCLUSIVE lock for an instant (bounded by MIGRATION_LOCK_TIMEOUT) and rewrites nothing; the
default is set in a second statement so that it applies to new rows only. Rows written before
1.1.0 keep NULL (their creation time is unknown). Release 1.0.0 never names the column, so it
keeps serving on this schema.

Revision ID: 20261204000000
Revises: 20251107000000
Create Date: 2026-12-04 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "20261204000000"
down_revision: str | None = "20251107000000"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "system_settings",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        if_not_exists=True,
    )
    op.alter_column("system_settings", "created_at", server_default=sa.func.now())


def downgrade() -> None:
    op.drop_column("system_settings", "created_at", if_exists=True)
