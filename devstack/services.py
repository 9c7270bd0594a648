"""The servers of the local stack in start-up order (each recipe: devstack/servers/)."""

from devstack.servers import (
    alertmanager,
    api,
    blackbox_exporter,
    nats,
    postgres,
    postgres_exporter,
    prometheus,
    redis,
    redis_exporter,
    temporal,
    worker,
)
from devstack.servers.base import Service, StackError

SERVICES: list[Service] = [
    postgres.SERVICE,
    redis.SERVICE,
    nats.SERVICE,
    temporal.SERVICE,
    # Observability: each runs only when its Debian package is installed (Prometheus too).
    postgres_exporter.SERVICE,
    redis_exporter.SERVICE,
    blackbox_exporter.SERVICE,
    alertmanager.SERVICE,
    prometheus.SERVICE,
    api.SERVICE,
    worker.SERVICE,
]


def service(name: str) -> Service:
    for candidate in SERVICES:
        if candidate.name == name:
            return candidate
    raise StackError(f"unknown service '{name}'; known: {', '.join(s.name for s in SERVICES)}")
