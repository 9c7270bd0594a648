"""Temporal client: a lazy singleton for the API and a bounded wait for the worker."""

import asyncio
import logging
import time
from datetime import timedelta

from temporalio.client import Client
from temporalio.runtime import Runtime

from app.config import Settings
from app.services.errors import DependencyUnavailableError, describe
from app.tracing import temporal_interceptors

logger = logging.getLogger(__name__)


async def connect(
    settings: Settings, runtime: Runtime | None = None, identity: str | None = None
) -> Client:
    """One connection attempt, bounded by DEPENDENCY_CONNECT_TIMEOUT."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        connect_timeout=timedelta(seconds=settings.dependency_connect_timeout),
        runtime=runtime,
        identity=identity,
        interceptors=temporal_interceptors(),
    )


async def wait_for_temporal(
    settings: Settings, runtime: Runtime | None = None, identity: str | None = None
) -> Client:
    """Retry `connect` until it succeeds or TEMPORAL_WAIT_TIMEOUT passes, logging progress."""
    deadline = time.monotonic() + settings.temporal_wait_timeout
    attempt = 0
    while True:
        attempt += 1
        try:
            client = await connect(settings, runtime, identity)
            logger.info(
                "connected to temporal",
                extra={"address": settings.temporal_address, "attempt": attempt},
            )
            return client
        except Exception as error:  # the SDK raises plain RuntimeError for transport failures
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"temporal at {settings.temporal_address} not reachable after "
                    f"{settings.temporal_wait_timeout:.0f}s: {error}"
                ) from error
            logger.info(
                "waiting for temporal",
                extra={
                    "address": settings.temporal_address,
                    "attempt": attempt,
                    "error": str(error),
                },
            )
            await asyncio.sleep(1.0)


class TemporalService:
    """Lazy client for the API: connects on first use; the SDK reconnects by itself after that."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        """The connected client; a failed connection is reported as "temporal unavailable"."""
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    try:
                        self._client = await connect(self._settings)
                    except Exception as error:  # the SDK reports transport failures as RuntimeError
                        raise DependencyUnavailableError("temporal", describe(error)) from error
        return self._client

    async def check(self) -> None:
        """Health RPC of the frontend service; raises when it does not answer SERVING in time."""
        client = await self.client()
        timeout = timedelta(seconds=self._settings.health_check_timeout)
        if not await client.service_client.check_health(timeout=timeout):
            raise RuntimeError("temporal frontend is not serving")

    async def close(self) -> None:
        # The SDK's connection is closed with the runtime; dropping the reference is enough.
        self._client = None
