"""Slow and idle clients: half-sent requests (the first on a connection or one after a served
request) and silent connections are closed after
HTTP_HEADER_TIMEOUT, normal requests keep being served meanwhile, and the number of
connections is bounded by MAX_CONNECTIONS."""

import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx

from app.config import Settings
from devstack.config import HOST, StackConfig
from tests.integration.helpers import api_process
from tests.waiting import wait_for

DEFAULTS = Settings()
HALF_SENT = b"POST /redis/test HTTP/1.1\r\nHost: sbs\r\nContent-Type: application/json\r\n"
COMPLETE = b"GET /health/live HTTP/1.1\r\nHost: sbs\r\n\r\n"


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@contextmanager
def open_connections(port: int, count: int, first_bytes: bytes) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        connections = []
        for _ in range(count):
            connection = stack.enter_context(socket.create_connection((HOST, port), timeout=5))
            if first_bytes:
                connection.sendall(first_bytes)
            connections.append(connection)
        yield connections


def closed_by_server(connection: socket.socket) -> bool:
    """The server hung up: after a 408 (and a 200 for a request completed before it), or
    silently for a connection that sent nothing. Reads what has arrived so far."""
    connection.settimeout(0.01)
    try:
        while connection.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


def test_half_sent_and_idle_connections_are_closed_while_requests_are_served(
    stack: StackConfig, api: httpx.Client
) -> None:
    port = port_of(stack.api_url)
    with (
        open_connections(port, 300, HALF_SENT) as half_sent,
        open_connections(port, 50, b"") as silent,
        open_connections(port, 20, COMPLETE) as kept_alive,
    ):
        # Once the first request is answered, the next head comes half-sent on the same
        # connection (uvicorn's keep-alive timeout stops counting when bytes arrive).
        for connection in kept_alive:
            assert connection.recv(65536).startswith(b"HTTP/1.1 200")
            connection.sendall(HALF_SENT)
        with httpx.Client(base_url=stack.api_url, timeout=5) as fresh:  # a new connection
            for _ in range(20):
                assert fresh.get("/version").status_code == 200
        pending = half_sent + silent + kept_alive
        wait_for(
            lambda: all(closed_by_server(connection) for connection in pending),
            DEFAULTS.http_header_timeout + 20,
            interval=1,
        )
    assert api.get("/version").status_code == 200


def test_connections_beyond_max_connections_are_refused_with_503(stack: StackConfig) -> None:
    with api_process(stack, MAX_CONNECTIONS="20") as server:
        server.wait_ready()
        with open_connections(port_of(server.url), 20, b""), server.client(timeout=5) as client:
            refused = client.get("/version")
            assert refused.status_code == 503
        with server.client(timeout=5) as client:
            wait_for(lambda: client.get("/version").status_code == 200, 10)
