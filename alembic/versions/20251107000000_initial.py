"""Initial schema: system_settings, seeded with core.version.

Revision ID: 20251107000000
Revises:
Create Date: 2025-11-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from app.models.system import (
    PLATFORM_VERSION_DESCRIPTION,
    PLATFORM_VERSION_KEY,
    upsert_setting_values,
)

revision: str = "20251107000000"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# devstack/migration_lint.py: the squawk rules this revision may break, and why.
SQUAWK_IGNORE = {
    "prefer-text-field": (
        "Released in 1.0.0 on new tables: system_settings.key is VARCHAR(128) and Alembic's own "
        "alembic_version.version_num is VARCHAR(32); changing them now would be the very type "
        "change the rule warns about."
    ),
}


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
    # The version this schema was written for; after every upgrade
    # app.migrations.record_platform_version replaces it with the running platform version.
    # The value as JSON text cast to JSONB, so that `alembic upgrade --sql` can render it too;
    # without RETURNING, which would name the model's later columns.
    version = sa.cast(sa.literal('"1.0.0"'), postgresql.JSONB())
    op.execute(upsert_setting_values(PLATFORM_VERSION_KEY, version, PLATFORM_VERSION_DESCRIPTION))


def downgrade() -> None:
    op.drop_table("system_settings")
