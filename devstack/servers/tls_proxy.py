"""A TLS-terminating proxy in front of a server that cannot serve TLS itself.

The Temporal dev server (`temporal server start-dev`) has no TLS option, so a test that wants
Temporal over TLS or mTLS puts HAProxy (Debian's `haproxy`) in front of it: TCP mode, the
server's certificate, and, for mTLS, `verify required` against the CA that signs the clients'
certificates. gRPC needs `alpn h2`; the plain side then speaks HTTP/2 with prior knowledge,
which is what the dev server's gRPC listener expects.

Not part of `make up` (the local stack stays plain); started by the tests, and by anything
that rehearses the production topology.
"""

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devstack.config import HOST
from devstack.servers.base import Package, StackError
from devstack.waiting import wait_until

HAPROXY = Package("haproxy", ("haproxy",))
READY_TIMEOUT = 15.0


@dataclass(frozen=True)
class TlsProxy:
    """Listen with TLS on `listen_port`; forward the decrypted stream to `target_port`."""

    listen_port: int
    target_port: int
    certificate_chain: Path  # the server's key and certificate chain, one PEM file
    client_ca: Path | None = None  # set: clients must present a certificate this CA signed
    alpn: str = "h2"

    def config(self) -> str:
        verify = f" ca-file {self.client_ca} verify required" if self.client_ca else ""
        return "\n".join(
            [
                "global",
                "  log stderr format raw local0 info",
                "defaults",
                "  mode tcp",
                "  log global",
                "  option tcplog",
                "  timeout connect 5s",
                "  timeout client 1h",
                "  timeout server 1h",
                "frontend tls",
                f"  bind {HOST}:{self.listen_port} ssl crt {self.certificate_chain}{verify}"
                f" alpn {self.alpn}",
                "  default_backend plain",
                "backend plain",
                f"  server upstream {HOST}:{self.target_port}",
                "",
            ]
        )


def listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def running(proxy: TlsProxy, directory: Path) -> Iterator[subprocess.Popen[bytes]]:
    """HAProxy serving `proxy` while the block runs (its log in `directory`/haproxy.log)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "haproxy.cfg"
    config.write_text(proxy.config())
    with (directory / "haproxy.log").open("ab") as log:
        # -db: stay in the foreground, so the process is ours to stop by its PID.
        process = subprocess.Popen(
            [HAPROXY.binary(), "-db", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        if (
            not wait_until(
                lambda: process.poll() is not None or listening(proxy.listen_port), READY_TIMEOUT
            )
            or process.poll() is not None
        ):
            log_text = (directory / "haproxy.log").read_text(errors="replace")
            raise StackError(f"haproxy did not listen on {proxy.listen_port}:\n{log_text}")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
