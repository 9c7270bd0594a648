"""SQLAlchemy engine and session factory for the API (async, psycopg 3)."""

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings
from app.tracing import instrument_engine


def create_engine(settings: Settings) -> AsyncEngine:
    """An async engine whose every connect and statement is bounded in time."""
    statement_timeout_ms = int(settings.request_timeout * 1000)
    engine = create_async_engine(
        settings.database_url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=settings.request_timeout,
        connect_args={
            "connect_timeout": max(1, round(settings.dependency_connect_timeout)),
            "options": f"-c statement_timeout={statement_timeout_ms}",
            "application_name": settings.otel_service_name,
        },
    )
    instrument_engine(engine)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The `SessionLocal` of the spec: one factory per engine; objects outlive the commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
