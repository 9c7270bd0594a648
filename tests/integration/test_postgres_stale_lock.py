"""A crashed postmaster's `postmaster.pid` does not keep PostgreSQL down.

After SIGKILL, the lock file names a zombie until the postmaster's parent reaps it (about 2 s
here; never under a container PID 1 that does not reap), or, after a restart of the machine or
container, a PID that another program now has. PostgreSQL only asks whether that PID exists and
refuses to start; devstack removes such a lock file first.

A "PID 1" of the test's own starts PostgreSQL each time (from a forked child that exits, as
`make up` does) and reaps nothing: the child subreaper of the servers those starts leave behind.
"""

import functools
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil
import pytest

from devstack import process
from devstack.config import PROJECT_ROOT, StackConfig
from devstack.privileges import as_unprivileged
from devstack.servers import postgres
from tests.integration.helpers import stack_variables
from tests.waiting import wait_for

ROUNDS = 10
# Reads a line per start; answers the start's exit code. It waits for its forked child only,
# so every server the children leave behind stays its unreaped child once killed.
NON_REAPING_INIT = """
import ctypes, os, sys
PR_SET_CHILD_SUBREAPER = 36
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
from devstack.config import StackConfig
from devstack.services import service
from devstack.stack import start
config = StackConfig.from_environment()
for _ in sys.stdin:
    child = os.fork()
    if child == 0:
        os.dup2(2, 1)
        try:
            print(start(config, service("postgresql")))
            code = 0
        except Exception as error:
            print(f"start failed: {error}")
            code = 1
        sys.stdout.flush()
        os._exit(code)
    _, status = os.waitpid(child, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""


@dataclass
class NonReapingInit:
    child: "subprocess.Popen[str]"
    log: Path

    def start_postgresql(self) -> None:
        stdin, stdout = self.child.stdin, self.child.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write("start\n")
        stdin.flush()
        exit_code = stdout.readline().strip()
        assert exit_code == "0", f"start failed ({exit_code!r}):\n{self.log.read_text()[-3000:]}"


@pytest.fixture(scope="module")
def lone_postgres() -> Iterator[tuple[StackConfig, NonReapingInit]]:
    """A stack state directory with only PostgreSQL, started through a non-reaping init."""
    config = StackConfig.ephemeral()
    log = config.path("init.log")
    output: IO[str] = log.open("w")
    child = subprocess.Popen(
        [sys.executable, "-c", NON_REAPING_INIT],
        cwd=PROJECT_ROOT,
        env=stack_variables(config),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=output,
        text=True,
    )
    init = NonReapingInit(child, log)
    try:
        init.start_postgresql()
        yield config, init
    finally:
        process.stop(config.state_dir, "postgresql", signal.SIGINT)
        child.communicate(timeout=30)  # closes its stdin: it exits
        output.close()
        shutil.rmtree(config.state_dir, ignore_errors=True)


def is_zombie(pid: int) -> bool:
    return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)


def postmaster(config: StackConfig) -> int:
    pid = process.running_pid(config.state_dir, "postgresql")
    assert pid is not None, "postgresql is not running"
    return pid


def test_a_start_right_after_sigkill_brings_postgresql_back(
    lone_postgres: tuple[StackConfig, NonReapingInit],
) -> None:
    config, init = lone_postgres
    for round_number in range(1, ROUNDS + 1):
        killed = postmaster(config)
        os.kill(killed, signal.SIGKILL)
        wait_for(functools.partial(is_zombie, killed), 10, "the killed postmaster a zombie")
        assert postgres.lock_file_holder(postgres.data_dir(config)) == killed
        init.start_postgresql()
        assert postgres.ready(config), f"round {round_number}: not answering"
        assert postmaster(config) != killed


def test_a_lock_file_naming_another_program_is_a_leftover(
    lone_postgres: tuple[StackConfig, NonReapingInit],
) -> None:
    """After a reboot the PID in `postmaster.pid` may belong to any program (of the same user:
    PostgreSQL's own check cannot tell it from a postmaster)."""
    config, init = lone_postgres
    lock_file = postgres.data_dir(config) / "postmaster.pid"
    contents = lock_file.read_text().split("\n")
    process.stop(config.state_dir, "postgresql", signal.SIGINT)
    other_program = subprocess.Popen(as_unprivileged(["sleep", "60"]))
    try:
        lock_file.write_text("\n".join([str(other_program.pid), *contents[1:]]))
        init.start_postgresql()
        assert postgres.ready(config)
    finally:
        other_program.kill()
        other_program.wait(10)
