"""Wait for PostgreSQL and bring its schema to head, safely with many replicas starting at once."""

import logging
import time
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, pool, select, text
from sqlalchemy.exc import OperationalError

from alembic import command
from app import __version__
from app.config import Settings
from app.models.system import (
    PLATFORM_VERSION_DESCRIPTION,
    PLATFORM_VERSION_KEY,
    SystemSetting,
    upsert_setting,
)
from app.services.errors import describe

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Any constant shared by all replicas; "SBSMIGR" in ASCII.
MIGRATION_LOCK_KEY = 0x5342534D49475200
LOCK_POLL_SECONDS = 0.5


class DatabaseUnavailableError(RuntimeError):
    """PostgreSQL did not accept connections within the allowed time."""


def make_engine(settings: Settings) -> Engine:
    connect_timeout = max(1, round(settings.dependency_connect_timeout))
    return create_engine(
        settings.database_url,
        poolclass=pool.NullPool,
        connect_args={"connect_timeout": connect_timeout},
    )


def wait_for_database(settings: Settings) -> None:
    """Poll `SELECT 1` until it answers or DATABASE_WAIT_TIMEOUT passes, logging each attempt."""
    engine = make_engine(settings)  # NullPool: nothing stays open between attempts
    deadline = time.monotonic() + settings.database_wait_timeout
    target = settings.database_url_redacted()
    attempt = 0
    while True:
        attempt += 1
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            logger.info("database is ready", extra={"database": target, "attempt": attempt})
            return
        except OperationalError as error:
            remaining = deadline - time.monotonic()
            reason = describe(error.orig or error)
            if remaining <= 0:
                raise DatabaseUnavailableError(
                    f"database {target} not reachable after {settings.database_wait_timeout:.0f}s: "
                    f"{reason}"
                ) from None
            logger.info(
                "waiting for database",
                extra={"database": target, "attempt": attempt, "error": reason},
            )
            time.sleep(min(1.0, remaining))


def alembic_config() -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    return config


def head_revision(config: Config) -> str | None:
    return ScriptDirectory.from_config(config).get_current_head()


def is_up_to_date(connection: Connection, head: str | None) -> bool:
    """True when the schema is at head and core.version names this platform version."""
    current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        return False
    stored = connection.execute(
        select(SystemSetting.value).where(SystemSetting.key == PLATFORM_VERSION_KEY)
    ).scalar_one_or_none()
    connection.rollback()
    return bool(stored == __version__)


def record_platform_version(connection: Connection) -> None:
    connection.execute(
        upsert_setting(PLATFORM_VERSION_KEY, __version__, PLATFORM_VERSION_DESCRIPTION)
    )
    connection.commit()


def acquire_migration_lock(connection: Connection, timeout: float) -> None:
    """Take the session-level advisory lock, polling so the wait is bounded and visible."""
    deadline = time.monotonic() + timeout
    while not connection.execute(
        text("SELECT pg_try_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
    ).scalar_one():
        connection.rollback()
        if time.monotonic() > deadline:
            raise TimeoutError(f"migration lock still held by another process after {timeout:.0f}s")
        logger.info("another replica is migrating; waiting for the migration lock")
        time.sleep(LOCK_POLL_SECONDS)
    connection.commit()


def migrate(settings: Settings) -> str:
    """Upgrade to head under a PostgreSQL advisory lock; returns what was done."""
    config = alembic_config()
    head = head_revision(config)
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            if is_up_to_date(connection, head):
                logger.info("schema already at head", extra={"revision": head})
                return "already at head"
            acquire_migration_lock(connection, settings.database_wait_timeout)
            try:
                # Another replica may have finished while this one waited for the lock.
                if is_up_to_date(connection, head):
                    logger.info(
                        "schema brought to head by another replica", extra={"revision": head}
                    )
                    return "already at head"
                logger.info("applying migrations", extra={"revision": head})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
                record_platform_version(connection)
                logger.info("migrations applied", extra={"revision": head})
                return "upgraded"
            finally:
                connection.execute(text("SELECT pg_advisory_unlock_all()"))
                connection.commit()
    finally:
        engine.dispose()
