"""Redis client: one lazy asyncio client with bounded timeouts, plus the demo write/read helper."""

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.config import Settings
from app.services.errors import unavailable_on

DEMO_KEY_PREFIX = "sbs:test:"
# redis-py raises its own errors for protocol and connection failures, and lets some socket
# errors through as they are.
REDIS_ERRORS = (RedisError, OSError)


class CacheService:
    """redis-py keeps a connection pool and reconnects per command, so an outage heals by itself."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Redis | None = None

    @property
    def client(self) -> Redis:
        if self._client is None:
            self._client = Redis.from_url(
                self._settings.redis_url,
                socket_connect_timeout=self._settings.dependency_connect_timeout,
                socket_timeout=self._settings.request_timeout,
                decode_responses=True,
            )
        return self._client

    async def ping(self) -> None:
        with unavailable_on("redis", *REDIS_ERRORS):
            await self.client.ping()

    async def write_and_read(self, key: str, value: str, ttl_seconds: int) -> str | None:
        """SET the namespaced key with a TTL and GET it back in one round trip."""
        stored_key = DEMO_KEY_PREFIX + key
        with unavailable_on("redis", *REDIS_ERRORS):
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(stored_key, value, ex=ttl_seconds)
                pipe.get(stored_key)
                _, read_back = await pipe.execute()
        return read_back if isinstance(read_back, str) else None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
