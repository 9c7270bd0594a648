"""NATS client: one lazy connection (to one server or a cluster, optionally TLS), the echo
responder on NATS_SUBJECT, request/publish and a health round trip that survives a frozen server.

nats-py's `flush(timeout)` must not be used here: when it times out it leaves a cancelled
future in the client's PONG queue, and the late PONG kills the client's read loop for good
(nats.py issue 624 family); later flushes then "succeed" without any round trip. So the
health round trip is a request to this connection's own private subject, whose late reply
is simply dropped, and a connection whose read loop died anyway is replaced.
"""

import asyncio
import contextlib
import logging
import random
import secrets
import ssl
from urllib.parse import urlsplit

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
# seconds (nats-py's default is four minutes), so a frozen or cut-off server ends in a
# reconnect (to another cluster member) within about 3 s, with or without traffic.
PING_INTERVAL_SECONDS = 1
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


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The verifying TLS context of NATS_TLS_* (None: nats-py's default for `tls://` servers,
    the system's CAs)."""
    if not (settings.nats_tls_ca_file or settings.nats_tls_cert_file):
        return None
    context = ssl.create_default_context(cafile=settings.nats_tls_ca_file or None)
    if settings.nats_tls_cert_file:
        context.load_cert_chain(settings.nats_tls_cert_file, settings.nats_tls_key_file)
    return context


def server_address(url: str) -> str:
    """host:port of a server URL, without the credentials it may carry (for logs)."""
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    return f"{parts.hostname}:{parts.port}"


def speaks_tls(connection: Client) -> bool:
    """The server required TLS, so nats-py upgraded the connection (it never upgrades on its
    own: a `tls://` URL to a server without TLS stays plain text)."""
    info = connection._server_info  # nats-py has no public accessor for the server's INFO
    return bool(info.get("tls_required"))


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
        self._tls = tls_context(settings)
        self._tls_expected = self._tls is not None or any(
            server.startswith("tls://") for server in settings.nats_servers
        )
        self._connecting = False

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
        connection = await self._open()
        with unavailable_on("nats", *NATS_ERRORS):
            await connection.subscribe(
                self._settings.nats_subject, queue=ECHO_QUEUE_GROUP, cb=self._echo
            )
            await connection.subscribe(self._health_subject, cb=self._echo)
        connected = connection.connected_url
        logger.info(
            "nats connected",
            extra={
                "server": server_address(connected.geturl()) if connected else None,
                "subject": self._settings.nats_subject,
            },
        )
        return connection

    async def _open(self) -> Client:
        timeout = self._settings.dependency_connect_timeout
        # Clients spread over the listed servers; after that nats-py keeps the order, so a
        # reconnect tries the other members (listed or learnt from the cluster) before the
        # server just lost, instead of waiting out a connect timeout on a frozen one.
        servers = random.sample(self._settings.nats_servers, len(self._settings.nats_servers))
        connection = Client()
        self._connecting = True
        try:
            with unavailable_on("nats", *NATS_ERRORS):
                await asyncio.wait_for(
                    connection.connect(
                        servers,
                        name=self._settings.otel_service_name,
                        # nats-py annotates these int; they are asyncio timeouts (float).
                        connect_timeout=timeout,  # type: ignore[arg-type]
                        allow_reconnect=True,
                        max_reconnect_attempts=RECONNECT_ATTEMPTS,
                        reconnect_time_wait=RECONNECT_WAIT_SECONDS,  # type: ignore[arg-type]
                        ping_interval=PING_INTERVAL_SECONDS,
                        max_outstanding_pings=MAX_OUTSTANDING_PINGS,
                        dont_randomize=True,
                        tls=self._tls,
                        error_cb=self._on_error,
                    ),
                    timeout=timeout * 2,
                )
            if self._tls_expected and not speaks_tls(connection):
                raise DependencyUnavailableError("nats", "server does not offer TLS")
        except BaseException:
            await self._close_quietly(connection)
            raise
        finally:
            self._connecting = False
        return connection

    @staticmethod
    async def _close_quietly(connection: Client) -> None:
        with contextlib.suppress(*NATS_ERRORS):
            await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT_SECONDS)

    @staticmethod
    async def _discard(connection: Client | None) -> None:
        if connection is None or connection.is_closed:
            return
        logger.warning("nats connection unusable (read loop ended); reconnecting")
        with contextlib.suppress(*NATS_ERRORS):
            await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT_SECONDS)

    async def _on_error(self, error: Exception) -> None:
        logger.warning("nats connection error: %s", describe(error))
        if self._connecting and isinstance(error, ssl.SSLCertVerificationError):
            # A certificate the CA did not sign will not heal by retrying: raised from here,
            # it ends nats-py's connect loop at once, and the caller names it.
            raise error

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
