"""Shared fixtures: a complete stack of real servers, started by devstack on free loopback ports.

It runs in a temporary state directory, so it never touches a `make up` stack beside it.
"""

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.config import HOST, PORT_VARIABLES, StackConfig
from devstack.stack import down, up


def free_ports(count: int) -> list[int]:
    sockets = []
    for _ in range(count):
        probe = socket.socket()
        probe.bind((HOST, 0))
        sockets.append(probe)
    ports = [probe.getsockname()[1] for probe in sockets]
    for probe in sockets:
        probe.close()
    return ports


def new_stack_config(token: str = "test-token") -> StackConfig:
    """A config on fresh ports in a fresh state directory others may traverse (PostgreSQL
    runs as `nobody` when the tests run as root)."""
    state_dir = Path(tempfile.mkdtemp(prefix="sbs-test-"))
    state_dir.chmod(0o755)
    ports = dict(zip(PORT_VARIABLES, free_ports(len(PORT_VARIABLES)), strict=True))
    return StackConfig(state_dir=state_dir, ports=ports, api_token=token, scrape_interval="1s")


@pytest.fixture(scope="session")
def stack() -> Iterator[StackConfig]:
    config = new_stack_config()
    try:
        up(config)
        yield config
    finally:
        down(config)
        shutil.rmtree(config.state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def api(stack: StackConfig) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def auth(stack: StackConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.api_token}"}
