"""Shared fixtures: a complete stack of real servers, started by devstack on free loopback ports.

It runs in a temporary state directory, so it never touches a `make up` stack beside it.
"""

import shutil
from collections.abc import Generator, Iterator

import httpx
import pytest

from app.logging_setup import flush_access_log
from devstack.config import StackConfig
from devstack.stack import down, up

RUNNING_STACKS: list[StackConfig] = []


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """Stop the stacks as soon as the tests end, before pytest-cov collects its data, so the
    coverage of the API and worker processes (written when they exit) is counted."""
    try:
        return (yield)
    finally:
        for config in RUNNING_STACKS:
            down(config)


@pytest.fixture(scope="session")
def stack() -> Iterator[StackConfig]:
    config = StackConfig.ephemeral(api_token="test-token", scrape_interval="1s")
    RUNNING_STACKS.append(config)
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


@pytest.fixture(autouse=True)
def _access_lines_stay_with_their_test() -> Iterator[None]:
    """Access lines are written in batches: flush a test's own before the next test's capture."""
    yield
    flush_access_log()
