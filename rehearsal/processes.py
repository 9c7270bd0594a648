"""Processes inside the hosts' namespaces, started through devstack's process handling."""

import contextlib
import os
import signal
from pathlib import Path

from devstack import process
from devstack.config import PROJECT_ROOT
from rehearsal.journal import Journal
from rehearsal.network import in_namespace, namespace_pids
from rehearsal.topology import Host


def start(journal: Journal, host: Host, name: str, command: list[str], env: dict[str, str]) -> int:
    """Start `command` in `host`'s namespace (its pid is the program's: `ip netns exec` execs),
    logging to <state>/logs/<name>.log; returns the pid."""
    journal.record("process", name=name, namespace=host.namespace)
    spawned = process.spawn(
        journal.directory, name, in_namespace(host.namespace, *command), env, PROJECT_ROOT
    )
    started = start_ticks(spawned.pid)
    if started is not None:
        journal.record("pid", name=name, pid=spawned.pid, started=started)
    return spawned.pid


def start_ticks(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (/proc/PID/stat), None when there is
    no such process. Unlike psutil's create_time, which adds the boot time as the wall clock
    puts it now, it never moves: an NTP step shifted every create_time by a second mid-run."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22; the name may hold ") "


def is_recorded(pid: int, started: int) -> bool:
    """Whether `pid` is still the process the journal recorded (not a reused pid)."""
    return start_ticks(pid) == started


def log_path(journal: Journal, name: str) -> Path:
    return process.log_file(journal.directory, name)


def host_pids(host: Host) -> list[int]:
    return namespace_pids(host.namespace)


def signal_host(host: Host, signal_number: int) -> list[int]:
    """Send `signal_number` to every process of the host (SIGKILL: the host is lost; SIGSTOP:
    frozen; SIGCONT: thawed)."""
    pids = host_pids(host)
    for pid in pids:
        process.send(pid, signal_number)
    return pids


def kill_namespace(namespace: str) -> None:
    """SIGKILL everything in the namespace (stopped processes too) and wait until it is gone."""
    for _ in range(5):  # a process may fork while we kill its parent
        pids = namespace_pids(namespace)
        if not pids:
            return
        process.kill_and_wait(pids)


def kill_recorded(pid: int, started: int) -> None:
    """SIGKILL a process the journal recorded, unless its pid now belongs to another one."""
    if is_recorded(pid, started):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        process.kill_and_wait([pid])
