"""A TCP echo server and round-trip probes, run inside the rehearsal's namespaces by the
latency fault's test (`ip netns exec ... python echo.py MODE ADDRESS PORT`).

    serve ADDRESS PORT        echo every connection until it closes
    probe ADDRESS PORT        one new connection, one round trip: prints its seconds
    hold ADDRESS PORT FLAG    a round trip ("ready"), then, once FLAG exists, another one on the
                              same connection: prints "kept" or "cut"
"""

import os
import socket
import sys
import threading
import time
from pathlib import Path

PAYLOAD = os.urandom(65536)
TIMEOUT = 10.0


def echo(connection: socket.socket) -> None:
    with connection:
        while data := connection.recv(65536):
            connection.sendall(data)


def serve(address: str, port: int) -> None:
    listener = socket.create_server((address, port), reuse_port=True)
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=echo, args=(connection,), daemon=True).start()


def round_trip(connection: socket.socket) -> float:
    """Seconds to send the payload and get all of it back intact."""
    began = time.monotonic()
    connection.sendall(PAYLOAD)
    received = b""
    while len(received) < len(PAYLOAD):
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the echo came back")
        received += chunk
    if received != PAYLOAD:
        raise ValueError("the echo differs from what was sent")
    return time.monotonic() - began


def main() -> None:
    mode, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "serve":
        serve(address, port)
        return
    connection = socket.create_connection((address, port), timeout=TIMEOUT)
    if mode == "probe":
        print(f"{round_trip(connection):.3f}", flush=True)
        return
    flag = Path(sys.argv[4])
    round_trip(connection)
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        round_trip(connection)
    except (OSError, ConnectionError):
        print("cut", flush=True)
    else:
        print("kept", flush=True)


if __name__ == "__main__":
    main()
