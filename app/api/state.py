"""What the application holds for its lifetime: settings and one client per dependency."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.database import create_engine, create_session_factory
from app.dependency_metrics import record_health_report
from app.health import HealthChecker
from app.services.cache import CacheService
from app.services.nats_client import NatsService
from app.temporal.client import TemporalService
from app.version import resolve_build


@dataclass
class Services:
    settings: Settings
    build: str
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    cache: CacheService
    nats: NatsService
    temporal: TemporalService
    health: HealthChecker

    @classmethod
    def create(cls, settings: Settings) -> "Services":
        """Build every client without any I/O: connections are made on first use."""
        engine = create_engine(settings)
        cache = CacheService(settings)
        nats = NatsService(settings)
        temporal = TemporalService(settings)

        async def check_postgresql() -> None:
            # Autocommit: one round trip for the query, no BEGIN/ROLLBACK around it.
            async with engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql("SELECT 1")

        health = HealthChecker(
            {
                "postgresql": check_postgresql,
                "redis": cache.ping,
                "nats": nats.round_trip,
                "temporal": temporal.check,
            },
            timeout=settings.health_check_timeout,
            on_report=record_health_report,
        )
        return cls(
            settings=settings,
            build=resolve_build(settings.app_build),
            engine=engine,
            session_factory=create_session_factory(engine),
            cache=cache,
            nats=nats,
            temporal=temporal,
            health=health,
        )

    async def close(self) -> None:
        await self.nats.close()
        await self.cache.close()
        await self.temporal.close()
        await self.engine.dispose()
