"""A minimal HTTP liveness endpoint for the worker (GET /health/live), with no extra dependency."""

import asyncio
import contextlib
from collections.abc import Callable

READ_TIMEOUT = 5.0


class HealthServer:
    """Answers 200 while `is_alive()` holds and 503 otherwise; anything else is 404."""

    def __init__(self, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - probed by orchestrators
        self._host = host
        self._port = port
        self._is_alive: Callable[[], bool] = lambda: False
        self._server: asyncio.Server | None = None

    def set_alive(self, is_alive: Callable[[], bool]) -> None:
        self._is_alive = is_alive

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
            parts = request_line.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else ""
            if path == "/health/live":
                status, body = ("200 OK", "ok") if self._is_alive() else ("503 Unavailable", "down")
            else:
                status, body = "404 Not Found", "not found"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n{body}".encode()
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
