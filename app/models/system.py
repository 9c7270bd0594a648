"""`system_settings`: platform-wide key/value settings with JSON values.

Every write of a setting goes through `upsert_setting` (or, without RETURNING,
`upsert_setting_values`): the initial migration's seed, the version record after each upgrade
(`app.migrations.record_platform_version`) and the API's `PUT /settings/{key}`.
Readers select the model like any other query.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, Text, func, literal_column
from sqlalchemy.dialects.postgresql import JSONB, Insert, insert
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.dml import ReturningInsert

from app.models.base import Base

# The platform's record of the version that last migrated the schema (read-only in the API).
PLATFORM_VERSION_KEY = "core.version"
PLATFORM_VERSION_DESCRIPTION = "Platform version of the last migration run"


class SystemSetting(Base):
    __tablename__ = "system_settings"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB, nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), index=True
    )
    # Since 1.1.0; NULL for settings written before (their creation time is unknown).
    created_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, server_default=func.now()
    )


def upsert_setting_values(key: str, value: Any, description: str | None) -> Insert:
    """Create or replace one setting in one statement; `updated_at` is the server's `now()`.

    It names only the columns every schema version has (the initial migration's seed uses it
    as is, on a table that has no later column yet).
    """
    values = insert(SystemSetting).values(key=key, value=value, description=description)
    return values.on_conflict_do_update(
        index_elements=[SystemSetting.key],
        set_={
            "value": values.excluded.value,
            "description": values.excluded.description,
            "updated_at": func.now(),
        },
    )


def upsert_setting(
    key: str, value: Any, description: str | None
) -> ReturningInsert[*tuple[Any, ...]]:
    """`upsert_setting_values` returning the row's columns and `created`: true when this
    statement inserted the row, false when it replaced an existing one."""
    return upsert_setting_values(key, value, description).returning(
        *SystemSetting.__table__.columns,
        # A row version's `xmax` is 0 unless a transaction has locked, updated or deleted it:
        # the row this statement inserted has 0, the row ON CONFLICT updated carries this
        # transaction's id. So one round trip both writes the row and tells created (201)
        # from replaced (200), where a SELECT first would race with concurrent writers.
        literal_column("xmax = 0").label("created"),
    )
