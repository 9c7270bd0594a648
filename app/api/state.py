"""What the application holds for its lifetime: settings and one client per dependency."""

from dataclasses import dataclass

from app.config import Settings
from app.dependency_metrics import record_health_report
from app.health import HealthChecker
from app.services.cache import CacheService
from app.services.database import DatabaseService
from app.services.identity import Authenticator
from app.services.nats_client import NatsService
from app.services.temporal import TemporalService
from app.version import resolve_build


@dataclass
class Services:
    settings: Settings
    build: str
    database: DatabaseService
    cache: CacheService
    nats: NatsService
    temporal: TemporalService
    health: HealthChecker
    authenticator: Authenticator

    @classmethod
    def create(cls, settings: Settings) -> "Services":
        """Build every client without any I/O: connections are made on first use."""
        database = DatabaseService(settings)
        cache = CacheService(settings)
        nats = NatsService(settings)
        temporal = TemporalService(settings)
        health = HealthChecker(
            {
                "postgresql": database.ping,
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
            database=database,
            cache=cache,
            nats=nats,
            temporal=temporal,
            health=health,
            authenticator=Authenticator.from_settings(settings),
        )

    async def close(self) -> None:
        await self.nats.close()
        await self.cache.close()
        await self.temporal.close()
        await self.database.close()
        await self.authenticator.close()
