"""The added-latency fault (this kernel has no `netem`): a host's outbound connections to the
servers of the /24 go through a delay proxy in its namespace. An iptables REDIRECT sends every
new one there, and the established ones are aborted (`ss -K`) so that they reconnect through
it. The heal removes the rule and stops the proxy, whose connections then reconnect directly."""

import os
import signal
import sys

from devstack import process
from rehearsal import network, processes
from rehearsal.journal import Journal
from rehearsal.servers import wait_ready
from rehearsal.topology import SUBNET, Host

DELAY_MS = 100  # each way: a request's round trips to its dependencies each cost 0.2 s more
PROXY_PORT = 15000
MARK = 0x5B5  # on the proxy's own connections, which the rule lets through
# The servers listen below the ephemeral range (32768-60999): a connection to such a port is
# the host's own outbound one; connections into the host are left alone.
SERVER_PORTS = "1:32767"


def proxy_name(server: Host) -> str:
    return f"delay-proxy-{server.name}"


def redirect_rule() -> list[str]:
    return [
        "OUTPUT",
        "-p",
        "tcp",
        "-d",
        f"{SUBNET}.0/24",
        "--dport",
        SERVER_PORTS,
        "-m",
        "mark",
        "!",
        "--mark",
        hex(MARK),
        "-j",
        "REDIRECT",
        "--to-ports",
        str(PROXY_PORT),
    ]


def ss(server: Host, *arguments: str) -> str:
    """`ss` inside the host's namespace; its output (empty when it failed)."""
    return network.run(*network.in_namespace(server.namespace, "ss", *arguments), check=False)


def listening(server: Host) -> bool:
    return bool(ss(server, "-Hltn", f"sport = :{PROXY_PORT}").strip())


def delayed_connections(server: Host) -> int:
    """Connections the proxy holds now: the evidence that the fault delayed something."""
    return len(ss(server, "-Htn", "state", "established", f"sport = :{PROXY_PORT}").splitlines())


def cut_outbound(server: Host) -> None:
    """Abort the host's established connections to the servers (`ss -K`). An idle one (a
    worker's long poll) sends nothing for a minute, so the rule alone would not reach it."""
    ss(server, "-K", "-t", "state", "established", "dst", f"{SUBNET}.0/24", "dport", "lt", ":32768")


def add(journal: Journal, server: Host) -> None:
    command = [
        sys.executable,
        "-m",
        "rehearsal.delay_proxy",
        "--port",
        str(PROXY_PORT),
        "--delay-ms",
        str(DELAY_MS),
        "--mark",
        hex(MARK),
    ]
    processes.start(journal, server, proxy_name(server), command, dict(os.environ))
    wait_ready(f"the delay proxy on {server.name}", lambda: listening(server), journal)
    journal.record("iptables", namespace=server.namespace)
    network.iptables(server.namespace, "-A", [redirect_rule()], table="nat")
    cut_outbound(server)


def remove(journal: Journal, server: Host) -> None:
    network.iptables(server.namespace, "-D", [redirect_rule()], table="nat", check=False)
    pid = process.running_pid(journal.directory, proxy_name(server))
    if pid is not None:
        process.send(pid, signal.SIGKILL)
        process.kill_and_wait([pid])
    journal.record("stopped", name=proxy_name(server))
