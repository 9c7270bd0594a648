"""devstack.process.is_alive: a process counts as gone only once every thread of it has exited,
because until then it still holds its ports (a killed multi-threaded server, such as Temporal)."""

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from devstack import process
from devstack.waiting import wait_until

# The main thread exits (and turns zombie) while another thread keeps the process running.
MAIN_THREAD_EXITS_FIRST = (
    "import ctypes, threading, time\n"
    "threading.Thread(target=time.sleep, args=(60,)).start()\n"
    "ctypes.CDLL(None).pthread_exit(None)\n"
)


def holds(condition: Callable[[], bool], seconds: float = 10) -> None:
    assert wait_until(condition, seconds), f"condition not met within {seconds}s"


def test_a_zombie_main_thread_with_live_threads_is_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", MAIN_THREAD_EXITS_FIRST])
    try:
        holds(lambda: psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE)
        assert process.is_alive(child.pid)
    finally:
        child.kill()
    holds(lambda: not process.is_alive(child.pid))


def test_an_exited_child_is_gone_and_reaped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    holds(lambda: not process.is_alive(child.pid))
    assert not psutil.pid_exists(child.pid)  # reaped, not left a zombie


def test_processes_are_found_by_program_and_working_directory(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "60"], cwd=tmp_path)
    elsewhere = subprocess.Popen(["sleep", "60"], cwd=tmp_path.parent)
    try:
        assert process.processes_in(tmp_path, "sleep") == [sleeper.pid]
        assert process.processes_in(tmp_path, "python3") == []
        process.kill_and_wait([sleeper.pid])
        assert process.processes_in(tmp_path, "sleep") == []
    finally:
        sleeper.kill()
        elsewhere.kill()
        elsewhere.wait(10)


# Ignores the stop signal, as a server stuck in its shutdown would; says so in a file.
IGNORES_SIGTERM = (
    "import pathlib, signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "pathlib.Path(sys.argv[1]).touch()\n"
    "time.sleep(60)\n"
)


def test_stop_kills_the_group_of_a_process_that_ignores_its_stop_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process, "STOP_GRACE_SECONDS", 0.5)
    ignoring = tmp_path / "ignoring"
    command = [sys.executable, "-c", IGNORES_SIGTERM, str(ignoring)]
    child = process.spawn(tmp_path, "stubborn", command, env={}, cwd=tmp_path)
    holds(ignoring.exists)
    assert process.running_pid(tmp_path, "stubborn") == child.pid
    started = time.monotonic()
    assert process.stop(tmp_path, "stubborn", signal.SIGTERM)
    assert time.monotonic() - started >= 0.5  # it had its grace period first
    assert not psutil.pid_exists(child.pid)
    assert process.running_pid(tmp_path, "stubborn") is None
    assert not process.stop(tmp_path, "stubborn", signal.SIGTERM)  # nothing left to stop
