"""Helpers for fault tests: an API process of its own, freezing a server, waiting."""

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack import process
from devstack.config import HOST, PORT_VARIABLES, PROJECT_ROOT, StackConfig, free_ports
from tests.waiting import answers_ok, wait_for


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (PostgreSQL's backends have process groups of their own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


def stack_variables(stack: StackConfig) -> dict[str, str]:
    """The environment of a developer beside `stack`: what moves `make up`, `make dev` and
    `python -m devstack` onto its state directory, ports and token."""
    # Without the variables of an outer `make test`, a nested `make` behaves as typed.
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }
    environment["SBS_STATE_DIR"] = str(stack.state_dir)
    environment["SBS_API_TOKEN"] = stack.api_token
    environment.update(
        {variable: str(stack.ports[name]) for name, (variable, _) in PORT_VARIABLES.items()}
    )
    return environment


def kill(stack: StackConfig, service: str) -> None:
    """SIGKILL the service's whole process group, as a crash or the OOM killer would."""
    pid = process.running_pid(stack.state_dir, service)
    assert pid is not None, f"{service} is not running"
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: not process.is_alive(pid), 10)


@contextmanager
def frozen(stack: StackConfig, service: str) -> Iterator[None]:
    """SIGSTOP the service's whole process tree (a paused VM: TCP open, nothing answers)."""
    pid = process.running_pid(stack.state_dir, service)
    assert pid is not None, f"{service} is not running"
    tree = process_tree(pid)
    for member in tree:
        os.kill(member, signal.SIGSTOP)
    try:
        yield
    finally:
        for member in tree:
            os.kill(member, signal.SIGCONT)


@dataclass
class ApiProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def wait_ready(self, seconds: float = 60) -> None:
        def ready() -> bool:
            assert self.process.poll() is None, f"API exited:\n{self.output()}"
            return answers_ok(f"{self.url}/health/ready", timeout=2)

        wait_for(ready, seconds, "the API ready")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(10)


def start_api(stack: StackConfig, script: str = "run_api.py", **variables: str) -> ApiProcess:
    """An API process of its own (no migrations: the stack ran them) on a free port, against
    the stack's servers; `variables` override its environment."""
    return start_api_in(PROJECT_ROOT, stack, script, variables)


def start_api_in(
    root: Path, stack: StackConfig, script: str, variables: dict[str, str]
) -> ApiProcess:
    """`start_api` from the checkout at `root` (another release's, say)."""
    port = int(variables.get("API_PORT") or free_ports(1)[0])
    environment = {
        **os.environ,
        **stack.app_environment(),
        "API_PORT": str(port),
        "SHUTDOWN_DRAIN_SECONDS": "0",
        "PYTHONUNBUFFERED": "1",
        **variables,
    }
    log = Path(tempfile.mkstemp(prefix="sbs-api-", suffix=".log")[1])
    with log.open("wb") as output:
        child = subprocess.Popen(
            [sys.executable, str(root / script)],
            cwd=root,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return ApiProcess(child, f"http://{HOST}:{port}", log)


@contextmanager
def api_process(stack: StackConfig, **variables: str) -> Iterator[ApiProcess]:
    started = start_api(stack, **variables)
    try:
        yield started
    finally:
        started.stop()
        started.log.unlink(missing_ok=True)
