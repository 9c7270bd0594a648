"""NATS as production runs it: three nats-server nodes joined by cluster routes, JetStream on
each (a `ServerGroup`, devstack/servers/group.py); optionally TLS for clients."""

import json
import urllib.error
import urllib.request
from pathlib import Path

from devstack.config import HOST, StackConfig
from devstack.servers.base import PROBE_TIMEOUT, Service, TlsFiles, http_ok
from devstack.servers.group import ServerGroup
from devstack.servers.nats import server_command

NODES = ("nats-1", "nats-2", "nats-3")
CLUSTER_NAME = "sbs"


def ports_of(node: str) -> tuple[str, str, str]:
    """The node's client, monitoring and route port names."""
    base = node.replace("-", "_")
    return base, f"{base}_monitor", f"{base}_route"


def tls_options(tls: TlsFiles | None) -> list[str]:
    """Clients must speak TLS; with a CA, they must also present a certificate it signed."""
    if tls is None:
        return []
    return [
        "--tlsverify",
        f"--tlscert={tls.cert_file}",
        f"--tlskey={tls.key_file}",
        f"--tlscacert={tls.ca_file}",
    ]


# A member that stops answering is dropped after about PING_INTERVAL * (PING_MAX + 1): by the
# other members (its routes, with its clients' subscriptions: until then they still get a share
# of queue-group messages, which a frozen member never answers) and by its clients' servers.
# nats-server's defaults (2 minutes, 2) would make a frozen member cost minutes.
PING_INTERVAL = "1s"
PING_MAX = 2


def write_node_config(path: Path) -> None:
    """The configuration file of a cluster node (what its command line cannot set: pings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'ping_interval: "{PING_INTERVAL}"\nping_max: {PING_MAX}\n')


def node(name: str, nodes: tuple[str, ...], tls: TlsFiles | None) -> Service:
    client, monitor, route = ports_of(name)

    def prepare(config: StackConfig) -> None:
        write_node_config(config.path(client, "node.conf"))

    def command(config: StackConfig) -> list[str]:
        routes = ",".join(
            f"nats-route://{HOST}:{config.ports[ports_of(other)[2]]}"
            for other in nodes
            if other != name
        )
        return server_command(
            config,
            client,
            monitor,
            f"--server_name={name}",
            f"--cluster_name={CLUSTER_NAME}",
            f"--cluster=nats://{HOST}:{config.ports[route]}",
            f"--routes={routes}",
            f"--config={config.path(client, 'node.conf')}",
            *tls_options(tls),
        )

    def ready(config: StackConfig) -> bool:  # serving; the cluster forms in `settled`
        return http_ok(config.url(monitor, "/varz"))

    return Service(name, [client, monitor, route], command, ready, prepare=prepare)


def routes_of(config: StackConfig, node_name: str) -> int:
    url = config.url(ports_of(node_name)[1], "/routez")
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT) as response:  # noqa: S310
            return int(json.load(response)["num_routes"])
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return 0


def cluster_group(tls: TlsFiles | None = None) -> ServerGroup:
    """Three nodes; settled once each has routes to both others and JetStream is healthy."""

    def settled(config: StackConfig) -> bool:
        return all(
            routes_of(config, name) >= len(NODES) - 1
            and http_ok(config.url(ports_of(name)[1], "/healthz"))
            for name in NODES
        )

    return ServerGroup([node(name, NODES, tls) for name in NODES], settled)


def client_url(group: ServerGroup, node_name: str, scheme: str = "nats") -> str:
    return f"{scheme}://{HOST}:{group.port(ports_of(node_name)[0])}"


def cluster_urls(group: ServerGroup, scheme: str = "nats") -> str:
    """The nodes as NATS_URL lists them."""
    return ",".join(client_url(group, name, scheme) for name in NODES)
