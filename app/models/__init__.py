"""ORM models; Alembic autogenerate reads `Base.metadata`."""

from app.models.base import Base
from app.models.system import SystemSetting, upsert_setting

__all__ = ["Base", "SystemSetting", "upsert_setting"]
