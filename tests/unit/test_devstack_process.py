"""devstack.process.is_alive: a process counts as gone only once every thread of it has exited,
because until then it still holds its ports (a killed multi-threaded server, such as Temporal)."""

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from devstack import process

# The main thread exits (and turns zombie) while another thread keeps the process running.
MAIN_THREAD_EXITS_FIRST = (
    "import ctypes, threading, time\n"
    "threading.Thread(target=time.sleep, args=(60,)).start()\n"
    "ctypes.CDLL(None).pthread_exit(None)\n"
)


def main_thread_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]


def wait_until(predicate: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {seconds}s")


def test_a_zombie_main_thread_with_live_threads_is_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", MAIN_THREAD_EXITS_FIRST])
    try:
        wait_until(lambda: main_thread_state(child.pid) == "Z")
        assert process.is_alive(child.pid)
    finally:
        child.kill()
    wait_until(lambda: not process.is_alive(child.pid))


def test_an_exited_child_is_gone_and_reaped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    wait_until(lambda: not process.is_alive(child.pid))
    assert not Path(f"/proc/{child.pid}").exists()  # reaped, not left a zombie
