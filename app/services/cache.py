"""Redis client: one lazy asyncio client with bounded timeouts (one server by REDIS_URL, or the
master that Sentinel names), plus the demo write/read helper."""

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.config import Settings
from app.services.deadline import within
from app.services.errors import unavailable_on

DEMO_KEY_PREFIX = "sbs:test:"
# redis-py raises its own errors for protocol and connection failures, and lets some socket
# errors through as they are.
REDIS_ERRORS = (RedisError, OSError)


def tls_options(settings: Settings) -> dict[str, Any]:
    """Verified TLS when REDIS_TLS_CA_FILE is set: to the server of a `rediss://` REDIS_URL, or
    in Sentinel mode to the Sentinels and the data nodes alike (one CA, one client certificate;
    `ssl` picks redis-py's TLS connection classes, Sentinel's managed ones included)."""
    if not settings.redis_tls_ca_file:
        return {}
    options: dict[str, Any] = {
        "ssl_ca_certs": settings.redis_tls_ca_file,
        "ssl_certfile": settings.redis_tls_cert_file or None,
        "ssl_keyfile": settings.redis_tls_key_file or None,
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
    }
    if settings.redis_sentinels:
        options["ssl"] = True
    return options


def connect(settings: Settings) -> Redis:
    """A client of REDIS_URL's server, or of the master Sentinel names when REDIS_SENTINELS is
    set; each command is bounded by the connect and request timeouts either way."""
    timeouts: dict[str, Any] = {
        "socket_connect_timeout": settings.dependency_connect_timeout,
        "socket_timeout": settings.request_timeout,
    }
    tls = tls_options(settings)
    if not settings.redis_sentinels:
        return Redis.from_url(settings.redis_url, decode_responses=True, **timeouts, **tls)
    # A Sentinel answers at once or not at all: a frozen one costs half the health timeout,
    # asked once (redis-py retries 3 times by default; the next Sentinel is the retry), before
    # the next is asked, so a frozen Sentinel and the master's answer fit one check.
    sentinel_timeout = settings.health_check_timeout / 2
    sentinel = Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        settings.redis_sentinel_addresses,
        sentinel_kwargs={
            "password": settings.redis_sentinel_password or None,
            "socket_connect_timeout": sentinel_timeout,
            "socket_timeout": sentinel_timeout,
            "retry": Retry(NoBackoff(), 0),
            **tls,
        },
        password=settings.redis_password or None,
        decode_responses=True,
        **timeouts,
        **tls,
    )
    # A connection is made to the address Sentinel gives when it is opened; a demoted master
    # answering READONLY, a lost or a timed-out connection is dropped and the next one asks again.
    master: Redis = sentinel.master_for(settings.redis_sentinel_master)
    return master


class CacheService:
    """redis-py keeps a connection pool and reconnects per command, so an outage heals by itself."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Redis | None = None

    @property
    def client(self) -> Redis:
        if self._client is None:
            self._client = connect(self._settings)
        return self._client

    async def ping(self) -> None:
        with unavailable_on("redis", *REDIS_ERRORS):
            await self.client.ping()

    async def write_and_read(self, key: str, value: str, ttl_seconds: int) -> str | None:
        """SET the namespaced key with a TTL and GET it back in one round trip."""
        stored_key = DEMO_KEY_PREFIX + key

        async def transaction() -> object:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(stored_key, value, ex=ttl_seconds)
                pipe.get(stored_key)
                _, read_back = await pipe.execute()
            return read_back

        with unavailable_on("redis", *REDIS_ERRORS):
            # Asking Sentinel, connecting and the commands share one request's time.
            read_back = await within(self._settings.request_timeout, "redis", transaction())
        return read_back if isinstance(read_back, str) else None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
