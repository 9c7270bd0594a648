"""Shared fixtures: a complete stack of real servers, started by devstack on free loopback ports.

It runs in a temporary state directory, so it never touches a `make up` stack beside it; with
SBS_TEST_STACK=running (`make check`) the tests use the running `make up` stack instead, when
there is one. Under pytest-xdist (`make test` runs two workers) each worker has its own stack.
"""

import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import httpx
import pytest

from app.logging_setup import flush_access_log
from devstack import process
from devstack.config import StackConfig
from devstack.stack import down, up
from tests.waiting import answers_ok

RUNNING_STACKS: list[StackConfig] = []
TESTS = Path(__file__).parent
# Directories whose tests share one costly session fixture: one worker runs all of them (the
# image is built once per run).
SHARED_BY_DIRECTORY = ("image",)
# The longest groups, longest first (`--durations` of a whole run): handed out first, so that
# neither worker is left with one of them at the end while the other idles.
LONGEST_GROUPS = (
    "rehearsal/test_rehearsal_topology",
    "image",
    "deploy/test_artifact_mutations",
    "integration/test_openapi_fuzz",
    "integration/test_nats_cluster",
    "integration/test_migrations",
    "integration/test_production",
    "integration/test_rolling_release",
    "integration/test_recipes",
    "deploy/test_ansible_idempotence",
    "integration/test_devstack_cli",
    "integration/test_redis_sentinel",
    "monitoring/test_alert_delivery",
    "integration/test_freezes",
)


def group_of(item: pytest.Item) -> str:
    relative = item.path.relative_to(TESTS)
    if relative.parts[0] in SHARED_BY_DIRECTORY:
        return relative.parts[0]
    return relative.with_suffix("").as_posix()


# tryfirst: xdist's worker names each test after its group in this same hook, so the groups
# must be there before it runs.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups for `--dist loadgroup` (`make test`): a module's tests stay on one worker (its
    module-scoped fixtures are made once), and so do the tests of a directory in
    SHARED_BY_DIRECTORY; the LONGEST_GROUPS come first, the rest in their usual order."""
    for item in items:
        if not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group_of(item)))
    rank = {group: position for position, group in enumerate(LONGEST_GROUPS)}
    items.sort(key=lambda item: rank.get(group_of(item), len(LONGEST_GROUPS)))


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """Stop the stacks as soon as the tests end, before pytest-cov collects its data, so the
    coverage of the API and worker processes (written when they exit) is counted."""
    try:
        return (yield)
    finally:
        for config in RUNNING_STACKS:
            down(config)


def running_make_up_stack() -> StackConfig | None:
    """`make up`'s stack (state directory, ports and token as it reads them) when its API is
    ready; None otherwise."""
    config = StackConfig.from_environment()
    if process.running_pid(config.state_dir, "api") is None:
        return None
    return config if answers_ok(f"{config.api_url}/health/ready", timeout=2) else None


@pytest.fixture(scope="session")
def stack() -> Iterator[StackConfig]:
    if os.environ.get("SBS_TEST_STACK") == "running":
        running = running_make_up_stack()
        if running is not None:
            yield running  # the developer's: never stopped, nothing of it removed
            return
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
