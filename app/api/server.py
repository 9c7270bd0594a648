"""Serve the API with uvicorn, with the limits uvicorn lacks and a drain before shutdown.

- A request's head (request line and headers) must arrive within HTTP_HEADER_TIMEOUT and
  stay under MAX_REQUEST_HEADER_BYTES: a slow or endless head is closed (408) or refused
  (431) instead of holding a connection and memory forever. Idle connections that never send
  anything are closed after the same timeout; MAX_CONNECTIONS bounds them all (503 beyond).
- On SIGTERM the API turns not-ready at once, keeps serving for SHUTDOWN_DRAIN_SECONDS (so
  load balancers stop sending it traffic), then stops accepting and finishes what is in
  flight, and exits 0. A second signal, or SIGINT, stops at once.
"""

import asyncio
import logging
import signal
import socket
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.api.main import create_app
from app.api.readiness import Readiness
from app.config import Settings

logger = logging.getLogger("sbs.api")

GRACEFUL_SHUTDOWN_SECONDS = 10
REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size cap on each request's head."""

    max_header_bytes = 32 * 1024
    header_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._in_head = False
        self._head_bytes = 0  # bytes of earlier reads of a head still incomplete
        self._chunk_bytes = 0  # bytes of the read being parsed
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._begin_head()
        self._arm_head_timer()  # a connection that never sends a byte

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._chunk_bytes = len(data)
        super().data_received(data)
        if self._in_head and not self._refused:
            # Bytes of a head still incomplete: httptools holds them until it ends.
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._refuse(431, f"request headers exceed {self.max_header_bytes} bytes")
            else:
                # Only a head split across reads needs the deadline: one that arrives whole
                # (nearly every request) costs no timer.
                self._arm_head_timer()

    # Parser callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begin_head()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_head_timer()
        # The head is at most its earlier reads and this one; only a head that may pass the
        # cap is measured (by what the parser gathered), so no callback per header is needed.
        if self._head_bytes + self._chunk_bytes > self.max_header_bytes:
            size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
            if size > self.max_header_bytes:
                self._refuse(431, f"request headers exceed {self.max_header_bytes} bytes")
                return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._refused:
            super().send_400_response(msg)

    # The head's deadline and the refusal -------------------------------------------------

    def _begin_head(self) -> None:
        self._in_head = True
        self._head_bytes = 0

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(408, f"request headers not received within {self.header_timeout:g}s")

    def _refuse(self, status_code: int, message: str) -> None:
        self._refused = True
        self._in_head = False
        self._stop_head_timer()
        body = message.encode("ascii")
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status_code, REASONS[status_code], len(body), body)
        )
        self.transport.close()
        logger.info("connection refused by the server: %s", message, extra={"status": status_code})


def guarded_protocol(settings: Settings) -> type[GuardedHttpProtocol]:
    """The protocol class with this configuration's limits."""
    return type(
        "GuardedHttpProtocol",
        (GuardedHttpProtocol,),
        {
            "max_header_bytes": settings.max_request_header_bytes,
            "header_timeout": settings.http_header_timeout,
        },
    )


class DrainingServer(uvicorn.Server):
    """uvicorn's server, with a drain period between SIGTERM and the shutdown."""

    def __init__(self, config: uvicorn.Config, readiness: Readiness, drain_seconds: float) -> None:
        super().__init__(config)
        self._readiness = readiness
        self._drain_seconds = drain_seconds
        self._draining = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs as a signal handler: no logging or locks here, only scheduling.
        if sig == signal.SIGTERM and not self._draining and self._drain_seconds > 0 and self._loop:
            self._draining = True
            self._readiness.draining()
            self._loop.call_soon_threadsafe(self._start_drain)
        else:
            super().handle_exit(sig, frame)
        # A graceful stop exits 0; uvicorn would re-raise the signal once it has stopped.
        self._captured_signals.clear()

    def _start_drain(self) -> None:
        logger.info(
            "SIGTERM: not ready; draining before shutdown",
            extra={"drain_seconds": self._drain_seconds},
        )
        assert self._loop is not None
        self._loop.call_later(self._drain_seconds, self._end_drain)

    def _end_drain(self) -> None:
        logger.info("drain over: shutting down")
        self.should_exit = True


def serve(settings: Settings) -> None:
    """Run the API in this process until a signal stops it."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        http=guarded_protocol(settings),
        log_config=None,
        access_log=False,
        proxy_headers=True,
        limit_concurrency=settings.max_connections,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    DrainingServer(config, app.state.readiness, settings.shutdown_drain_seconds).run()
