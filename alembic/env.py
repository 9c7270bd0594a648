"""Alembic environment: online migrations on the platform database.

`app.migrations.migrate` (entrypoint.py, sbs-migrate) passes its own connection, the one
holding the advisory lock, through `config.attributes["connection"]`; a plain
`alembic upgrade head` opens one from the settings.
"""

from sqlalchemy import Connection, create_engine, pool

from alembic import context
from app.config import get_settings
from app.models import Base

target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    settings = get_settings()
    engine = create_engine(
        settings.database_url,
        poolclass=pool.NullPool,
        connect_args=settings.database_connect_parameters,
    )
    with engine.connect() as new_connection:
        run_on(new_connection)


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported: run against a live database.")
run_migrations_online()
