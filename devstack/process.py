"""Background processes with pid files and log files under the state directory."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from devstack.logpipe import MAX_LOG_BYTES

STOP_GRACE_SECONDS = 20.0


def pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / "run" / f"{name}.pid"


def log_file(state_dir: Path, name: str) -> Path:
    return state_dir / "logs" / f"{name}.log"


def is_alive(pid: int) -> bool:
    """True while any thread of the process runs (it may still hold its ports); a zombie child
    is reaped and counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] != "Z":
        return True
    # A zombie main thread: the process is gone only once its other threads have exited too.
    try:
        threads = len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return False
    if threads > 1:
        return True
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return False


def processes_in(directory: Path, program: str) -> list[int]:
    """Live processes running `program` with `directory` as their working directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "exe")).name != program:
                continue
            if Path(os.readlink(entry / "cwd")) != directory:
                continue
        except OSError:  # gone meanwhile, or not ours to inspect
            continue
        if is_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def kill_and_wait(pids: list[int], seconds: float = 10.0) -> None:
    """SIGKILL each process and wait until none is left (a bounded wait)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + seconds
    while any(is_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


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
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, stop_signal)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if is_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        while is_alive(pid):
            time.sleep(0.05)
    pid_file(state_dir, name).unlink(missing_ok=True)
    return True


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
