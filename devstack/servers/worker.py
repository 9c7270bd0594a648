"""The platform's Temporal worker (`python run_worker.py`), with the API's environment."""

import sys

from devstack.config import PROJECT_ROOT, StackConfig
from devstack.servers import api
from devstack.servers.base import Service, http_ok


def command(config: StackConfig) -> list[str]:
    return [sys.executable, str(PROJECT_ROOT / "run_worker.py")]


def ready(config: StackConfig) -> bool:
    """Temporal has seen the worker's pollers (not merely: the process runs)."""
    return http_ok(config.url("worker_health", "/health/ready"))


def environment(config: StackConfig) -> dict[str, str]:
    # Its traces are told apart from the API's by service name (compose does the same).
    return {**api.environment(config), "OTEL_SERVICE_NAME": "sbs-worker"}


SERVICE = Service(
    "worker", ["worker_metrics", "worker_health"], command, ready, environment=environment
)
