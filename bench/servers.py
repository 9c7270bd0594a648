"""The processes under test: a devstack stack on free loopback ports, and the bare baselines."""

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import tenacity

from devstack.config import HOST, PROJECT_ROOT, StackConfig, free_ports
from devstack.servers.base import http_ok

BENCH_TOKEN = "bench-token"
READY_TIMEOUT = 30.0


def new_stack_config() -> StackConfig:
    """Fresh ports and state directory; every other setting is `make up`'s (15 s scrapes,
    INFO JSON logs to the log files)."""
    return StackConfig.ephemeral(api_token=BENCH_TOKEN)


def remove_state(config: StackConfig) -> None:
    shutil.rmtree(config.state_dir, ignore_errors=True)


def wait_http_ok(url: str, timeout: float = READY_TIMEOUT) -> None:
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_delay(timeout),
        wait=tenacity.wait_fixed(0.1),
        retry=tenacity.retry_if_result(lambda answered: not answered),
        retry_error_callback=lambda state: False,
    )
    if not retrying(http_ok, url):
        raise RuntimeError(f"{url} not answering 200 after {timeout:.0f}s")


@contextlib.contextmanager
def bare_server(kind: str, log_dir: Path) -> Iterator[str]:
    """Serve one baseline app (bench.bare_apps) in its own process; yields its base URL."""
    (port,) = free_ports(1)
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"bare-{kind}.log").open("ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.bare_apps", kind, str(port)],
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # In a session of its own, as devstack starts the platform's API: Linux schedules
            # each session as a group (autogroup), and a baseline left in the group of wrk and
            # this process gets several times the platform's CPU share on a busy machine.
            start_new_session=True,
        )
    base_url = f"http://{HOST}:{port}"
    try:
        wait_http_ok(base_url + "/health/live")
        yield base_url
    finally:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
