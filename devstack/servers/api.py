"""The platform's API, started as the image starts it (`python entrypoint.py`: migrations,
then uvicorn), pointed at the stack's servers."""

import sys

from devstack.config import PROJECT_ROOT, StackConfig
from devstack.servers.base import Service, http_ok


def command(config: StackConfig) -> list[str]:
    return [sys.executable, str(PROJECT_ROOT / "entrypoint.py")]


def ready(config: StackConfig) -> bool:
    return http_ok(config.url("api", "/health/ready"))


def environment(config: StackConfig) -> dict[str, str]:
    """What the API and the worker run with: the stack's addresses and local defaults."""
    return {**config.app_environment(), "PYTHONUNBUFFERED": "1"}


SERVICE = Service("api", ["api"], command, ready, environment=environment, ready_timeout=90.0)
