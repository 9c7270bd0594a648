"""The servers of the local stack in start-up order (each recipe: devstack/servers/)."""

from devstack import observability
from devstack.servers import api, nats, postgres, prometheus, redis, temporal, worker
from devstack.servers.base import Service, StackError

SERVICES: list[Service] = [
    postgres.SERVICE,
    redis.SERVICE,
    nats.SERVICE,
    temporal.SERVICE,
    # Observability (devstack/observability.py): each runs only when its package is installed.
    *observability.SERVICES,
    prometheus.SERVICE,
    api.SERVICE,
    worker.SERVICE,
]


def service(name: str) -> Service:
    for candidate in SERVICES:
        if candidate.name == name:
            return candidate
    raise StackError(f"unknown service '{name}'; known: {', '.join(s.name for s in SERVICES)}")
