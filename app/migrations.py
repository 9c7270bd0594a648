"""Wait for PostgreSQL and bring its schema to head, safely with many replicas starting at once
and with the previous release still serving.

Both waits are bounded by DATABASE_WAIT_TIMEOUT and logged: the wait for the server is
tenacity's retry of `SELECT 1`, the wait for another replica's migration is PostgreSQL's own
(a blocking `pg_advisory_lock` under `lock_timeout`). The migrations themselves run under
MIGRATION_LOCK_TIMEOUT and MIGRATION_STATEMENT_TIMEOUT; one stopped by its lock timeout (a long
transaction holds the table) is retried MIGRATION_LOCK_RETRIES times, each retry logged, then
fails naming the bound, instead of queueing every query on the table behind it.
"""

import logging
import time
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, pool, select, text
from sqlalchemy.exc import OperationalError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_fixed,
)

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
# Seconds between two attempts to reach the database.
DATABASE_POLL_SECONDS = 1.0
# PostgreSQL's answer to a lock wait cut short by lock_timeout.
LOCK_NOT_AVAILABLE = "55P03"
DEADLOCK_DETECTED = "40P01"
# The longest single wait for the migration lock (below PostgreSQL's deadlock_timeout, 1 s).
WAIT_SLICE_SECONDS = 0.5


class DatabaseUnavailableError(RuntimeError):
    """PostgreSQL did not accept connections within the allowed time."""


class MigrationLockTimeoutError(TimeoutError):
    """A migration could not take its table lock within MIGRATION_LOCK_TIMEOUT, retries included."""


def _milliseconds(seconds: float) -> str:
    # 0 would mean no bound at all: at least one millisecond.
    return f"{max(1, round(seconds * 1000))}ms"


def migration_timeouts(settings: Settings) -> dict[str, str]:
    """The session settings every migration runs under, as PostgreSQL values."""
    return {
        "lock_timeout": _milliseconds(settings.migration_lock_timeout),
        "statement_timeout": _milliseconds(settings.migration_statement_timeout),
    }


def set_migration_timeouts(connection: Connection, settings: Settings) -> None:
    """Set the migration timeouts for this session (until `reset_migration_timeouts`)."""
    for name, value in migration_timeouts(settings).items():
        connection.execute(
            text("SELECT set_config(:name, :value, false)"), {"name": name, "value": value}
        )
    connection.commit()


def reset_migration_timeouts(connection: Connection) -> None:
    connection.execute(text("RESET lock_timeout"))
    connection.execute(text("RESET statement_timeout"))
    connection.commit()


def is_lock_timeout(error: BaseException) -> bool:
    """A lock wait cut short by lock_timeout, or by PostgreSQL breaking a deadlock."""
    return isinstance(error, OperationalError) and (
        getattr(error.orig, "sqlstate", None) in (LOCK_NOT_AVAILABLE, DEADLOCK_DETECTED)
    )


def make_engine(settings: Settings) -> Engine:
    """An engine for the wait and the migrations; with DATABASE_TARGET_SESSION_ATTRS'
    default (`read-write`) it reaches the primary only, and so does the advisory lock."""
    connect_timeout = max(1, round(settings.dependency_connect_timeout))
    return create_engine(
        settings.database_url,
        poolclass=pool.NullPool,
        connect_args={**settings.database_connect_parameters, "connect_timeout": connect_timeout},
    )


def _reason(error: BaseException | None) -> str:
    if isinstance(error, OperationalError):
        return describe(error.orig or error)
    return describe(error) if error is not None else "unknown"


def wait_for_database(settings: Settings) -> None:
    """Retry `SELECT 1` until it answers or DATABASE_WAIT_TIMEOUT passes, logging each attempt."""
    engine = make_engine(settings)  # NullPool: nothing stays open between attempts
    target = settings.database_url_redacted()
    timeout = settings.database_wait_timeout

    def ping() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def until_next_attempt(state: RetryCallState) -> float:
        # The last attempt comes at the deadline, not up to a poll interval after it.
        return max(0.0, min(DATABASE_POLL_SECONDS, timeout - (state.seconds_since_start or 0.0)))

    def log_failed_attempt(state: RetryCallState) -> None:
        logger.info(
            "waiting for database",
            extra={
                "database": target,
                "attempt": state.attempt_number,
                "waited_s": round(state.seconds_since_start or 0.0, 1),
                "timeout_s": timeout,
                "error": _reason(state.outcome.exception() if state.outcome else None),
            },
        )

    retrying = Retrying(
        retry=retry_if_exception_type(OperationalError),
        stop=stop_after_delay(timeout),
        wait=until_next_attempt,
        before_sleep=log_failed_attempt,
        reraise=True,
    )
    try:
        retrying(ping)
    except OperationalError as error:
        raise DatabaseUnavailableError(
            f"database {target} not reachable after {timeout:.0f}s: {_reason(error)}"
        ) from None
    finally:
        engine.dispose()
    logger.info(
        "database is ready",
        extra={"database": target, "attempt": retrying.statistics.get("attempt_number", 1)},
    )


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
    """Take the session-level advisory lock; when another replica holds it, wait in PostgreSQL.

    The wait is a blocking `pg_advisory_lock` under `lock_timeout` (SET LOCAL: it bounds this
    one statement and ends with its transaction, never the migrations that follow), so the
    lock passes on the moment its holder lets go. Raises TimeoutError after `timeout` seconds.

    It waits in slices of at most WAIT_SLICE_SECONDS, each a new transaction: a waiting
    statement holds a snapshot, and the holder's `CREATE INDEX CONCURRENTLY` waits for every
    older snapshot, so one endless wait would be a deadlock between the two.
    """
    key = {"key": MIGRATION_LOCK_KEY}
    if connection.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar_one():
        connection.commit()
        return
    logger.info(
        "another replica is migrating; waiting for the migration lock",
        extra={"timeout_s": timeout},
    )
    started = time.monotonic()

    def wait_one_slice() -> None:
        remaining = timeout - (time.monotonic() - started)
        try:
            connection.execute(
                text("SELECT set_config('lock_timeout', :lock_timeout, true)"),
                {"lock_timeout": _milliseconds(max(0.0, min(remaining, WAIT_SLICE_SECONDS)))},
            )
            connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
        except BaseException:
            connection.rollback()
            raise
        connection.commit()

    try:
        Retrying(
            retry=retry_if_exception(is_lock_timeout),
            stop=stop_after_delay(timeout),
            reraise=True,
        )(wait_one_slice)
    except OperationalError as error:
        if is_lock_timeout(error):
            raise TimeoutError(
                f"migration lock still held by another process after {timeout:.0f}s"
            ) from None
        raise
    logger.info("migration lock acquired")


def upgrade_with_retries(connection: Connection, config: Config, settings: Settings) -> None:
    """`alembic upgrade head`, tried again while a revision's lock wait hits its lock_timeout.

    Each revision commits on its own (alembic/env.py), so a retry resumes at the revision that
    could not take its lock; between two tries the other sessions' queued queries run.
    """
    timeout = settings.migration_lock_timeout
    attempts = settings.migration_lock_retries + 1

    def upgrade() -> None:
        try:
            command.upgrade(config, "head")
            connection.commit()
        except BaseException:
            connection.rollback()
            raise

    def log_lock_timeout(state: RetryCallState) -> None:
        logger.warning(
            "migration could not take its lock within MIGRATION_LOCK_TIMEOUT; retrying",
            extra={
                "attempt": state.attempt_number,
                "attempts": attempts,
                "lock_timeout_s": timeout,
                "error": _reason(state.outcome.exception() if state.outcome else None),
            },
        )

    try:
        Retrying(
            retry=retry_if_exception(is_lock_timeout),
            stop=stop_after_attempt(attempts),
            wait=wait_fixed(timeout),
            before_sleep=log_lock_timeout,
            reraise=True,
        )(upgrade)
    except OperationalError as error:
        if not is_lock_timeout(error):
            raise
        raise MigrationLockTimeoutError(
            f"migration could not take its lock within MIGRATION_LOCK_TIMEOUT={timeout:g}s "
            f"in {attempts} attempt(s): a long transaction holds a lock on the table "
            f"({_reason(error)}); end that transaction, or migrate again later"
        ) from None


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
                config.attributes["settings"] = settings
                upgrade_with_retries(connection, config, settings)
                record_platform_version(connection)
                logger.info("migrations applied", extra={"revision": head})
                return "upgraded"
            finally:
                connection.rollback()
                reset_migration_timeouts(connection)
                connection.execute(text("SELECT pg_advisory_unlock_all()"))
                connection.commit()
    finally:
        engine.dispose()
