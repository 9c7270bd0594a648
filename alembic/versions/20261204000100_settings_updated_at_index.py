"""An index on system_settings.updated_at, built CONCURRENTLY (1.1.0).

`CREATE INDEX CONCURRENTLY` takes no lock that blocks reads or writes, and cannot run in a
transaction: it runs in an autocommit block. A build that failed (a lock or statement timeout)
leaves an INVALID index behind, so the upgrade first drops any leftover, CONCURRENTLY too.

Revision ID: 20261204000100
Revises: 20261204000000
Create Date: 2026-12-04 00:01:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261204000100"
down_revision: str | None = "20261204000000"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_system_settings_updated_at"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, "system_settings", postgresql_concurrently=True, if_exists=True)
        op.create_index(
            INDEX,
            "system_settings",
            ["updated_at"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, "system_settings", postgresql_concurrently=True, if_exists=True)
