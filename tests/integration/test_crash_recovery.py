"""SIGKILL of any server, then `make up` at once (devstack `up`), brings it back: PostgreSQL's
postmaster included, while the backends it leaves behind still hold its data directory."""

import os
import signal

import httpx
import pytest

from devstack import process
from devstack.config import StackConfig
from devstack.stack import enabled_services, up
from tests.integration.helpers import process_tree
from tests.waiting import wait_for

RECOVERY_SECONDS = 30
SERVERS = [candidate.name for candidate in enabled_services()]


def crash(stack: StackConfig, service: str) -> None:
    """SIGKILL the main process only, as the OOM killer does. Its children live on; they are
    held stopped so that they are still there when `up` runs (left alone, PostgreSQL's
    backends notice the dead postmaster within milliseconds to seconds: a race)."""
    pid = process.running_pid(stack.state_dir, service)
    assert pid is not None, f"{service} is not running"
    children = process_tree(pid)[1:]
    for child in children:
        os.kill(child, signal.SIGSTOP)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not process.is_alive(pid), 10, interval=0.05)


@pytest.mark.parametrize(
    ("service", "attempt"),
    [(name, 1) for name in SERVERS] + [("postgresql", 2), ("postgresql", 3)],
)
def test_up_right_after_a_crash_brings_the_server_back(
    stack: StackConfig, api: httpx.Client, service: str, attempt: int
) -> None:
    crash(stack, service)
    up(stack)
    assert process.running_pid(stack.state_dir, service) is not None

    def healthy() -> bool:
        try:
            return api.get("/health").status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, RECOVERY_SECONDS)
