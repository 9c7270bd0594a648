"""Temporal: the connection, the API's lazy client and its health check, with the SDK's
failures translated into "temporal unavailable" here, once.

The worker side (waiting for the server at start-up, the Worker itself) is in `app/temporal/`.
"""

import asyncio
from datetime import timedelta

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import RPCError

from app.config import Settings
from app.services.errors import DependencyUnavailableError, unavailable_on
from app.tracing import temporal_interceptors

# A failed connect comes from the SDK's core as a plain RuntimeError ("Failed client connect:
# ..."), a TEMPORAL_HOST it cannot parse as ValueError; once connected, an unreachable, silent
# or refusing server fails a call with RPCError.
CONNECT_ERRORS = (RuntimeError, ValueError)
RPC_ERRORS = (RPCError,)


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
                    with unavailable_on("temporal", *CONNECT_ERRORS):
                        self._client = await connect(self._settings)
        return self._client

    async def check(self) -> None:
        """Health RPC of the frontend service: it must answer SERVING within the check timeout."""
        client = await self.client()
        timeout = timedelta(seconds=self._settings.health_check_timeout)
        with unavailable_on("temporal", *RPC_ERRORS):
            serving = await client.service_client.check_health(timeout=timeout)
        if not serving:
            raise DependencyUnavailableError("temporal", "frontend is not serving")

    async def close(self) -> None:
        # The SDK's connection is closed with the runtime; dropping the reference is enough.
        self._client = None
