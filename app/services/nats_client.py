"""NATS client: one lazy connection, the echo responder on NATS_SUBJECT, request/publish/flush."""

import asyncio
import logging
import math

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from opentelemetry import propagate, trace

from app.config import Settings
from app.services.errors import DependencyUnavailableError, describe

logger = logging.getLogger(__name__)

ECHO_QUEUE_GROUP = "sbs-api-echo"
# After an outage the client retries briefly, then closes; the next use connects afresh.
RECONNECT_ATTEMPTS = 3
RECONNECT_WAIT_SECONDS = 0.5

# NATS has no maintained OpenTelemetry instrumentation: spans and W3C headers are added here.
# Without a tracer provider (tracing off) both are no-ops.
_tracer = trace.get_tracer(__name__)


def _span(operation: str, subject: str) -> trace.Span:
    return _tracer.start_span(
        f"{operation} {subject}",
        kind=trace.SpanKind.PRODUCER if operation == "publish" else trace.SpanKind.CLIENT,
        attributes={
            "messaging.system": "nats",
            "messaging.operation.name": operation,
            "messaging.destination.name": subject,
        },
    )


def _trace_headers() -> dict[str, str] | None:
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers or None


def whole_seconds(timeout: float) -> int:
    """nats-py takes flush timeouts in whole seconds."""
    return max(1, math.ceil(timeout))


class NatsService:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._connection: Client | None = None
        self._lock = asyncio.Lock()

    async def connection(self) -> Client:
        """The live connection, connecting (and subscribing the echo responder) on demand.

        While the client is reconnecting after an outage this fails at once instead of
        letting callers wait for their timeouts.
        """
        current = self._connection
        if current is None or current.is_closed:
            async with self._lock:
                if self._connection is None or self._connection.is_closed:
                    self._connection = await self._connect()
                current = self._connection
        if not current.is_connected:
            raise DependencyUnavailableError("nats", "connection lost; reconnecting")
        return current

    async def _connect(self) -> Client:
        timeout = self._settings.dependency_connect_timeout
        try:
            connection = await asyncio.wait_for(
                nats.connect(
                    self._settings.nats_url,
                    name=self._settings.otel_service_name,
                    connect_timeout=timeout,
                    allow_reconnect=True,
                    max_reconnect_attempts=RECONNECT_ATTEMPTS,
                    reconnect_time_wait=RECONNECT_WAIT_SECONDS,
                    error_cb=self._on_error,
                ),
                timeout=timeout * 2,
            )
        except (NatsError, OSError, TimeoutError) as error:
            raise DependencyUnavailableError("nats", describe(error)) from error
        await connection.subscribe(
            self._settings.nats_subject, queue=ECHO_QUEUE_GROUP, cb=self._echo
        )
        logger.info(
            "nats connected",
            extra={"url": self._settings.nats_url, "subject": self._settings.nats_subject},
        )
        return connection

    @staticmethod
    async def _on_error(error: Exception) -> None:
        logger.warning("nats connection error: %s", describe(error))

    @staticmethod
    async def _echo(message: Msg) -> None:
        if message.reply:
            await message.respond(message.data)

    async def round_trip(self) -> None:
        """PING/PONG with the server: proves the connection is usable, not merely open."""
        connection = await self.connection()
        try:
            await connection.flush(timeout=whole_seconds(self._settings.health_check_timeout))
        except (NatsError, OSError, TimeoutError) as error:
            raise DependencyUnavailableError("nats", describe(error)) from error

    async def request(self, payload: bytes) -> bytes:
        """Request/reply on NATS_SUBJECT, answered by an echo responder of some API replica."""
        connection = await self.connection()
        subject = self._settings.nats_subject
        with trace.use_span(_span("request", subject), end_on_exit=True):
            try:
                reply = await connection.request(
                    subject,
                    payload,
                    timeout=self._settings.request_timeout,
                    headers=_trace_headers(),
                )
            except (NatsError, OSError, TimeoutError) as error:
                raise DependencyUnavailableError("nats", describe(error)) from error
        return reply.data

    async def publish(self, subject: str, payload: bytes) -> None:
        connection = await self.connection()
        with trace.use_span(_span("publish", subject), end_on_exit=True):
            try:
                await connection.publish(subject, payload, headers=_trace_headers())
                await connection.flush(timeout=whole_seconds(self._settings.request_timeout))
            except (NatsError, OSError, TimeoutError) as error:
                raise DependencyUnavailableError("nats", describe(error)) from error

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed:
            try:
                await asyncio.wait_for(connection.drain(), self._settings.request_timeout)
            except (NatsError, OSError, TimeoutError) as error:
                logger.warning("nats drain failed: %s", describe(error))
