"""The processes under test: a devstack stack on free loopback ports, and the bare baselines."""

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import tenacity

from devstack.config import HOST, PROJECT_ROOT, StackConfig, free_ports
from devstack.process import running_pid
from devstack.servers import api
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


@dataclass(frozen=True)
class Server:
    """A server under load: where to send requests, and whose CPU time to read."""

    url: str
    pid: int


@contextlib.contextmanager
def served(
    arguments: list[str], log: Path, ready_path: str, environment: dict[str, str] | None = None
) -> Iterator[Server]:
    """Run `python -m ARGUMENTS... PORT` in a session of its own until it answers `ready_path`."""
    (port,) = free_ports(1)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        child = subprocess.Popen(
            [sys.executable, "-m", *arguments, str(port)],
            cwd=PROJECT_ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            # In a session of its own, as devstack starts the platform's API: Linux schedules
            # each session as a group (autogroup), and a baseline left in the group of wrk and
            # this process gets several times the platform's CPU share on a busy machine.
            start_new_session=True,
        )
    base_url = f"http://{HOST}:{port}"
    try:
        wait_http_ok(base_url + ready_path)
        yield Server(base_url, child.pid)
    finally:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def bare_server(kind: str, log_dir: Path) -> contextlib.AbstractContextManager[Server]:
    """One baseline app (bench.bare_apps) in its own process."""
    return served(["bench.bare_apps", kind], log_dir / f"bare-{kind}.log", "/health/live")


def platform_rung(
    rung: str, config: StackConfig, log_dir: Path
) -> contextlib.AbstractContextManager[Server]:
    """The platform's API with parts taken away (bench.platform_variants), on the stack's
    servers with the environment devstack gives the API."""
    return served(
        ["bench.platform_variants", rung],
        log_dir / f"rung-{rung.replace(' ', '-')}.log",
        "/health/ready",
        {**os.environ, **api.environment(config)},
    )


def stack_api(config: StackConfig) -> Server:
    """The stack's own API process, as `make up` runs it."""
    pid = running_pid(config.state_dir, "api")
    if pid is None:
        raise RuntimeError("the benchmark stack's API is not running")
    return Server(config.api_url, pid)
