"""Shared fixtures: a complete stack of real servers, started by devstack on free loopback ports.

It runs in a temporary state directory, so it never touches a `make up` stack beside it.
"""

import shutil
from collections.abc import Iterator

import httpx
import pytest

from devstack.config import StackConfig
from devstack.stack import down, up


@pytest.fixture(scope="session")
def stack() -> Iterator[StackConfig]:
    config = StackConfig.ephemeral(api_token="test-token", scrape_interval="1s")
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
