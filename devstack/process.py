"""Background processes with pid files and log files under the state directory."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil

from devstack.logpipe import MAX_LOG_BYTES
from devstack.servers.base import StackError
from devstack.waiting import wait_until

STOP_GRACE_SECONDS = 20.0
# A SIGKILLed process is gone within milliseconds unless the kernel is stuck on its I/O.
KILL_WAIT_SECONDS = 30.0


def pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / "run" / f"{name}.pid"


def log_file(state_dir: Path, name: str) -> Path:
    return state_dir / "logs" / f"{name}.log"


def is_alive(pid: int) -> bool:
    """True while any thread of the process runs (it may still hold its ports); a zombie child
    is reaped and counts as gone."""
    if pid <= 0:  # not a process of its own (a damaged pid file)
        return False
    try:
        found = psutil.Process(pid)
        # A zombie main thread: the process is gone only once its other threads have exited
        # too (a killed multi-threaded server such as Temporal still holds its ports until then).
        if found.status() != psutil.STATUS_ZOMBIE or found.num_threads() > 1:
            return True
        with contextlib.suppress(psutil.TimeoutExpired):
            found.wait(timeout=0)  # reaps it when it is our child
    except psutil.NoSuchProcess:
        pass
    return False


def processes_in(directory: Path, program: str) -> list[int]:
    """Live processes running `program` with `directory` as their working directory."""
    found = []
    # Attributes we may not read (another user's process) or that vanished come back as None.
    for candidate in psutil.process_iter(["exe", "cwd"]):
        exe, cwd = candidate.info["exe"], candidate.info["cwd"]
        if not exe or not cwd or Path(exe).name != program or Path(cwd) != directory:
            continue
        if is_alive(candidate.pid):
            found.append(candidate.pid)
    return found


def all_gone(pids: list[int], seconds: float) -> bool:
    """Wait (bounded) until none of `pids` is alive; False when some still are."""
    return wait_until(lambda: not any(is_alive(pid) for pid in pids), seconds)


def send(pid: int, signal_number: int) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).send_signal(signal_number)


def kill_and_wait(pids: list[int], seconds: float = 10.0) -> None:
    """SIGKILL each process and wait until none is left (a bounded wait)."""
    for pid in pids:
        send(pid, signal.SIGKILL)
    all_gone(pids, seconds)


def running_pid(state_dir: Path, name: str) -> int | None:
    path = pid_file(state_dir, name)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    if is_alive(pid):
        return pid
    path.unlink(missing_ok=True)
    return None


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def spawn(
    state_dir: Path, name: str, command: list[str], env: dict[str, str], cwd: Path
) -> subprocess.Popen[bytes]:
    """Start `command` in its own session, its output through a rotating log writer
    (devstack.logpipe), its pid recorded."""
    log_path = log_file(state_dir, name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pid_path = pid_file(state_dir, name)
    pid_path.parent.mkdir(parents=True, exist_ok=True)
    # Its own session too: stopping the service's process group leaves it to drain the pipe,
    # and it exits when the service's end of the pipe closes.
    writer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack.logpipe",
            str(log_path),
            str(env.get("SBS_LOG_MAX_BYTES", MAX_LOG_BYTES)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parent.parent,
        start_new_session=True,
    )
    assert writer.stdin is not None
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=writer.stdin,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        writer.stdin.close()
    pid_path.write_text(f"{process.pid}\n")
    return process


def stop(state_dir: Path, name: str, stop_signal: int) -> bool:
    """Signal the process, wait for it, then kill its whole group; False when it was not running."""
    pid = running_pid(state_dir, name)
    if pid is None:
        return False
    send(pid, stop_signal)
    if not all_gone([pid], STOP_GRACE_SECONDS):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        if not all_gone([pid], KILL_WAIT_SECONDS):
            raise StackError(f"{name} (pid {pid}) survived SIGKILL for {KILL_WAIT_SECONDS:.0f}s")
    pid_file(state_dir, name).unlink(missing_ok=True)
    return True


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
