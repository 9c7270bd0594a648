"""Processes inside the hosts' namespaces, started through devstack's process handling."""

import contextlib
import os
import signal
from pathlib import Path

import psutil

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
    with contextlib.suppress(psutil.NoSuchProcess):
        started = psutil.Process(spawned.pid).create_time()
        journal.record("pid", name=name, pid=spawned.pid, started=started)
    return spawned.pid


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


def kill_recorded(pid: int, started: float) -> None:
    """SIGKILL a process the journal recorded, unless its pid now belongs to another one."""
    with contextlib.suppress(psutil.NoSuchProcess):
        if abs(psutil.Process(pid).create_time() - started) < 0.01:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            process.kill_and_wait([pid])
