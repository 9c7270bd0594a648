"""NATS client: one lazy connection, the echo responder on NATS_SUBJECT, request/publish and a
health round trip that survives a frozen server.

nats-py's `flush(timeout)` must not be used here: when it times out it leaves a cancelled
future in the client's PONG queue, and the late PONG kills the client's read loop for good
(nats.py issue 624 family); later flushes then "succeed" without any round trip. So the
health round trip is a request to this connection's own private subject, whose late reply
is simply dropped, and a connection whose read loop died anyway is replaced.
"""

import asyncio
import contextlib
import logging
import secrets

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from opentelemetry import propagate, trace

from app.config import Settings
from app.services.errors import DependencyUnavailableError, describe, unavailable_on

logger = logging.getLogger(__name__)

ECHO_QUEUE_GROUP = "sbs-api-echo"
# After an outage the client retries briefly, then closes; the next use connects afresh.
RECONNECT_ATTEMPTS = 3
RECONNECT_WAIT_SECONDS = 0.5
# A server that stops answering PINGs is given up after about PING_INTERVAL * (MAX + 1)
# seconds (nats-py's default is four minutes), so a partition ends in a reconnect.
PING_INTERVAL_SECONDS = 5
MAX_OUTSTANDING_PINGS = 2
CLOSE_TIMEOUT_SECONDS = 1.0
# nats-py's own errors, socket errors it lets through, and its timeouts (plain TimeoutError).
NATS_ERRORS = (NatsError, OSError, TimeoutError)

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


def read_loop_died(connection: Client) -> bool:
    """A connected client whose reader task has ended will never see another reply."""
    reader = connection._reading_task  # nats-py has no public accessor for its read loop
    return connection.is_connected and reader is not None and reader.done()


class NatsService:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._connection: Client | None = None
        self._lock = asyncio.Lock()
        self._health_subject = f"_SBS_HEALTH.{secrets.token_hex(8)}"

    def _usable(self, connection: Client | None) -> bool:
        return (
            connection is not None and not connection.is_closed and not read_loop_died(connection)
        )

    async def connection(self) -> Client:
        """The live connection, connecting (and subscribing the responders) on demand.

        While the client is reconnecting after an outage this fails at once instead of
        letting callers wait for their timeouts.
        """
        current = self._connection
        if not self._usable(current):
            async with self._lock:
                if not self._usable(self._connection):
                    await self._discard(self._connection)
                    self._connection = await self._connect()
                current = self._connection
        assert current is not None
        if not current.is_connected:
            raise DependencyUnavailableError("nats", "connection lost; reconnecting")
        return current

    async def _connect(self) -> Client:
        timeout = self._settings.dependency_connect_timeout
        with unavailable_on("nats", *NATS_ERRORS):
            connection = await asyncio.wait_for(
                nats.connect(
                    self._settings.nats_url,
                    name=self._settings.otel_service_name,
                    connect_timeout=timeout,
                    allow_reconnect=True,
                    max_reconnect_attempts=RECONNECT_ATTEMPTS,
                    reconnect_time_wait=RECONNECT_WAIT_SECONDS,
                    ping_interval=PING_INTERVAL_SECONDS,
                    max_outstanding_pings=MAX_OUTSTANDING_PINGS,
                    error_cb=self._on_error,
                ),
                timeout=timeout * 2,
            )
            await connection.subscribe(
                self._settings.nats_subject, queue=ECHO_QUEUE_GROUP, cb=self._echo
            )
            await connection.subscribe(self._health_subject, cb=self._echo)
        logger.info(
            "nats connected",
            extra={"url": self._settings.nats_url, "subject": self._settings.nats_subject},
        )
        return connection

    @staticmethod
    async def _discard(connection: Client | None) -> None:
        if connection is None or connection.is_closed:
            return
        logger.warning("nats connection unusable (read loop ended); reconnecting")
        with contextlib.suppress(*NATS_ERRORS):
            await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT_SECONDS)

    @staticmethod
    async def _on_error(error: Exception) -> None:
        logger.warning("nats connection error: %s", describe(error))

    @staticmethod
    async def _echo(message: Msg) -> None:
        if message.reply:
            await message.respond(message.data)

    async def _request(
        self, subject: str, payload: bytes, seconds: float, headers: dict[str, str] | None = None
    ) -> bytes:
        connection = await self.connection()
        with unavailable_on("nats", *NATS_ERRORS):
            reply = await connection.request(subject, payload, timeout=seconds, headers=headers)
        return reply.data

    async def round_trip(self) -> None:
        """Through the server and back to this connection: proves it usable, not merely open."""
        await self._request(self._health_subject, b"", self._settings.health_check_timeout)

    async def request(self, payload: bytes) -> bytes:
        """Request/reply on NATS_SUBJECT, answered by an echo responder of some API replica."""
        subject = self._settings.nats_subject
        with trace.use_span(_span("request", subject), end_on_exit=True):
            return await self._request(
                subject, payload, self._settings.request_timeout, headers=_trace_headers()
            )

    async def publish(self, subject: str, payload: bytes) -> None:
        """Publish and confirm that the server has it (it handles a connection's messages in
        order, so the round trip after the message comes back only once the message arrived)."""
        connection = await self.connection()
        with trace.use_span(_span("publish", subject), end_on_exit=True):
            with unavailable_on("nats", *NATS_ERRORS):
                await connection.publish(subject, payload, headers=_trace_headers())
            await self._request(self._health_subject, b"", self._settings.request_timeout)

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed:
            try:
                await asyncio.wait_for(connection.drain(), self._settings.request_timeout)
            except NATS_ERRORS as error:
                logger.warning("nats drain failed: %s", describe(error))
