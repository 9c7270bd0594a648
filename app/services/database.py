"""PostgreSQL: the engine, units of work bounded by DATABASE_TIMEOUT, and the health ping.

Every request's database work runs through `DatabaseService.run`, so a server that accepts
connections but never answers (frozen, partitioned) costs a request at most DATABASE_TIMEOUT,
whether it hangs in connect, pool checkout or a statement.

Failover: new connections go to a primary only (DATABASE_TARGET_SESSION_ATTRS, `read-write`
by default, checked by libpq on each listed host). A pooled connection whose server turned
read-only under it (SQLSTATE 25006: the old primary of a failover, behind an address that
stayed) is treated as a lost connection: the request gets a 503 naming postgresql and the
whole pool is discarded, so the next request connects to the primary again.
"""

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings
from app.services.deadline import within
from app.services.errors import DependencyUnavailableError, describe, unavailable_on
from app.tracing import instrument_engine

# Only failures of the server or the connection are an outage; a statement PostgreSQL rejects
# is a bug or an unvalidated input.
CONNECTION_ERRORS = (OperationalError, InterfaceError, PoolTimeoutError)
# SQLSTATE of "cannot execute ... in a read-only transaction": the server is no primary (now).
READ_ONLY_SQL_TRANSACTION = "25006"


def discard_connections_to_a_read_only_server(context: ExceptionContext) -> None:
    """SQLAlchemy's `handle_error` hook: a write refused as read-only counts as a disconnect,
    so SQLAlchemy invalidates the connection and the pool (every connection made before)."""
    if getattr(context.original_exception, "sqlstate", None) == READ_ONLY_SQL_TRANSACTION:
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = True


@contextmanager
def postgresql_outage() -> Iterator[None]:
    """Inside the block, a connection failure, or any error after which SQLAlchemy discarded
    the connection (see above), is DependencyUnavailableError("postgresql", ...)."""
    try:
        with unavailable_on("postgresql", *CONNECTION_ERRORS):
            yield
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        raise DependencyUnavailableError("postgresql", describe(error)) from error


def create_engine(settings: Settings) -> AsyncEngine:
    """An async engine whose connects and statements are bounded on the server side too."""
    statement_timeout_ms = int(settings.database_timeout * 1000)
    engine = create_async_engine(
        settings.database_url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=settings.database_timeout,
        connect_args={
            **settings.database_connect_parameters,
            "connect_timeout": max(1, round(settings.dependency_connect_timeout)),
            "options": f"-c statement_timeout={statement_timeout_ms}",
            "application_name": settings.otel_service_name,
        },
    )
    event.listen(engine.sync_engine, "handle_error", discard_connections_to_a_read_only_server)
    instrument_engine(engine)  # statement spans when tracing is on (app.tracing)
    return engine


class DatabaseService:
    def __init__(self, settings: Settings) -> None:
        self._timeout = settings.database_timeout
        self.engine = create_engine(settings)
        # The spec's `SessionLocal`: objects outlive the commit.
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def run[T](self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """`work(session)` in a fresh session, bounded by DATABASE_TIMEOUT; an unreachable or
        silent server is "postgresql unavailable"."""

        async def in_session() -> T:
            with postgresql_outage():
                async with self._sessions() as session:
                    return await work(session)

        return await within(self._timeout, "postgresql", in_session())

    async def ping(self) -> None:
        """`SELECT 1` in autocommit: one round trip, no BEGIN/ROLLBACK around it."""

        async def select_one() -> None:
            async with self.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql("SELECT 1")

        with postgresql_outage():
            await select_one()

    async def close(self) -> None:
        await self.engine.dispose()
