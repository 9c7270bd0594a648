"""Alembic environment: migrations on the platform database, online or as SQL (`--sql`).

`app.migrations.migrate` (entrypoint.py, sbs-migrate) passes its own connection, the one
holding the advisory lock, through `config.attributes["connection"]` (and its settings through
`config.attributes["settings"]`); a plain `alembic upgrade head` opens one from the settings.

Every migration runs under MIGRATION_LOCK_TIMEOUT and MIGRATION_STATEMENT_TIMEOUT (session
settings, emitted first in the `--sql` output too): a migration that cannot take its lock
fails instead of queueing every other query on the table behind it. Each revision commits on
its own (`transaction_per_migration`), so a retry resumes after the last applied revision.
"""

from sqlalchemy import Connection, Engine, create_engine, pool

from alembic import context
from app.config import Settings, get_settings
from app.migrations import migration_timeouts, set_migration_timeouts
from app.models import Base

target_metadata = Base.metadata


def settings() -> Settings:
    given = context.config.attributes.get("settings")
    return given if isinstance(given, Settings) else get_settings()


def run_on(connection: Connection) -> None:
    set_migration_timeouts(connection, settings())
    # It commits: Alembic then owns each revision's transaction, which the autocommit block of
    # a CONCURRENTLY revision needs (a transaction already open here would leave it none).
    assert not connection.in_transaction()
    context.configure(
        connection=connection, target_metadata=target_metadata, transaction_per_migration=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given = context.config.attributes.get("connection")
    if isinstance(given, Connection):
        run_on(given)
        return
    # pytest-alembic passes an engine for some of its checks.
    engine = (
        given
        if isinstance(given, Engine)
        else create_engine(
            settings().database_url,
            poolclass=pool.NullPool,
            connect_args=settings().database_connect_parameters,
        )
    )
    with engine.connect() as new_connection:
        run_on(new_connection)


def run_migrations_offline() -> None:
    """The SQL of the migrations (`alembic upgrade A:B --sql`), which `make lint` checks."""
    context.configure(
        url="postgresql+psycopg://",
        target_metadata=target_metadata,
        literal_binds=True,
        transaction_per_migration=True,
    )
    for name, value in migration_timeouts(settings()).items():
        context.execute(f"SET {name} = '{value}'")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
