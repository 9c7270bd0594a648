"""A minimal HTTP server for the worker's probes, with no extra dependency.

`GET /health/live`: the worker loop is running (cheap; a Temporal outage does not fail it, so
an orchestrator does not restart every worker when Temporal is down). `GET /health/ready`:
Temporal has seen this worker's pollers recently (see `app.temporal.readiness`).
"""

import asyncio
import contextlib
from collections.abc import Callable

READ_TIMEOUT = 5.0


def never() -> bool:
    return False


class HealthServer:
    """200 while the probe's condition holds and 503 otherwise; anything else is 404."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._probes: dict[str, Callable[[], bool]] = {
            "/health/live": never,
            "/health/ready": never,
        }
        self._server: asyncio.Server | None = None

    def set_alive(self, is_alive: Callable[[], bool]) -> None:
        self._probes["/health/live"] = is_alive

    def set_ready(self, is_ready: Callable[[], bool]) -> None:
        self._probes["/health/ready"] = is_ready

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
            probe = self._probes.get(parts[1] if len(parts) >= 2 else "")
            if probe is None:
                status, body = "404 Not Found", "not found"
            elif probe():
                status, body = "200 OK", "ok"
            else:
                status, body = "503 Service Unavailable", "down"
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
