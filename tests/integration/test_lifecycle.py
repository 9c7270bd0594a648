"""Readiness means "this instance can take traffic": not while it starts, not once SIGTERM
came, and not affected by a shared dependency being down. On SIGTERM the API drains (not
ready, still serving), then finishes in-flight requests and exits 0."""

import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from devstack.config import HOST, StackConfig
from tests.integration.helpers import api_process
from tests.waiting import wait_for

DRAIN_SECONDS = 3


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers (a frozen dependency)."""
    listener = socket.create_server((HOST, 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        acceptor.join(5)
        for connection in held:
            connection.close()
        listener.close()


def test_not_ready_while_starting_and_ready_with_a_shared_dependency_down(
    stack: StackConfig,
) -> None:
    # NATS never answers: the start-up check waits out its timeout, the API is "starting".
    with (
        silent_server() as silent_port,
        api_process(stack, NATS_URL=f"nats://{HOST}:{silent_port}") as server,
    ):

        def answers() -> bool:
            try:
                return httpx.get(f"{server.url}/health/live", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answers, 30, interval=0.05)
        starting = httpx.get(f"{server.url}/health/ready", timeout=5)
        assert starting.status_code == 503
        assert starting.json() == {"status": "starting"}
        server.wait_ready()
        # A shared dependency being down is /health's business, not readiness's.
        with server.client() as client:
            assert client.get("/health").status_code == 503
            assert client.get("/health/ready").status_code == 200


def test_sigterm_drains_then_finishes_in_flight_requests_and_exits_0(
    stack: StackConfig, auth: dict[str, str]
) -> None:
    with api_process(stack, SHUTDOWN_DRAIN_SECONDS=str(DRAIN_SECONDS)) as server:
        server.wait_ready()
        failures: list[str] = []
        served = 0
        stop_load = threading.Event()

        def load() -> None:
            nonlocal served
            with server.client(timeout=10) as client:
                while not stop_load.is_set():
                    response = client.get("/version")
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text}")
                    served += 1

        workers = [threading.Thread(target=load) for _ in range(4)]
        for worker in workers:
            worker.start()
        time.sleep(0.5)

        # A slow upload in flight when shutdown begins: headers sent, body trickling in.
        port = int(server.url.rsplit(":", 1)[1])
        body = b'{"value": "in-flight"}'
        upload = socket.create_connection((HOST, port), timeout=30)
        upload.sendall(
            b"PUT /settings/tests.in_flight HTTP/1.1\r\nHost: sbs\r\n"
            + f"Authorization: {auth['Authorization']}\r\n".encode()
            + b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:5]
        )
        time.sleep(0.3)

        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        with httpx.Client(base_url=server.url, timeout=5) as probe:
            wait_for(lambda: probe.get("/health/ready").status_code == 503, 2, interval=0.05)
            assert probe.get("/health/ready").json() == {"status": "draining"}
            assert probe.get("/version").status_code == 200  # still serving while draining
        time.sleep(max(0.0, DRAIN_SECONDS - 0.5 - (time.monotonic() - signalled)))
        stop_load.set()
        for worker in workers:
            worker.join(15)
        assert failures == []
        assert served > 0

        def refuses_new_connections() -> bool:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
            except OSError:
                return True
            return False

        wait_for(refuses_new_connections, DRAIN_SECONDS + 5, interval=0.1)
        upload.sendall(body[5:])  # in flight since before SIGTERM: finished, not dropped
        reply = upload.recv(4096)
        upload.close()
        assert reply.startswith(b"HTTP/1.1 20"), reply
        assert server.process.wait(30) == 0
        log = server.output()
    assert "draining before shutdown" in log
    assert "api stopped" in log
    with httpx.Client(base_url=stack.api_url, headers=auth, timeout=10) as client:
        assert client.get("/settings/tests.in_flight").json()["value"] == "in-flight"
        assert client.delete("/settings/tests.in_flight").status_code == 204
