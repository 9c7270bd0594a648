"""Namespaces, veth pairs and the bridge: made through the journal, removed by it and by a
sweep over the tool's prefix (what a crash left before the journal could say so)."""

import subprocess

from devstack.servers.base import StackError
from rehearsal.journal import Journal
from rehearsal.topology import BRIDGE, OBSERVER_ADDRESS, PREFIX, PREFIX_LENGTH, Host

COMMAND_TIMEOUT = 15.0


class NetworkError(StackError):
    """An `ip`/`iptables`/`tc` command failed; the message carries its output."""


def run(*command: str, check: bool = True) -> str:
    try:
        result = subprocess.run(
            list(command), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as error:
        silent = f"no answer within {COMMAND_TIMEOUT:.0f}s"
        raise NetworkError(f"{' '.join(command)}: {silent}") from error
    if check and result.returncode != 0:
        raise NetworkError(f"{' '.join(command)}: {result.stderr.strip() or result.stdout}")
    return result.stdout


def in_namespace(namespace: str, *command: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, *command]


def iptables(
    namespace: str, action: str, rules: list[list[str]], table: str = "filter", check: bool = True
) -> None:
    """Rules inside a host's own namespace only (they vanish with it): each rule is its chain
    and the rest of the command line."""
    for chain, *rule in rules:
        run(*in_namespace(namespace, "iptables", "-t", table, action, chain, *rule), check=check)


def make_bridge(journal: Journal) -> None:
    journal.record("bridge", name=BRIDGE)
    run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("ip", "addr", "add", f"{OBSERVER_ADDRESS}/{PREFIX_LENGTH}", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")


def make_host(journal: Journal, host: Host) -> None:
    """A namespace with `eth0` on the bridge at the host's address, and its loopback up. No
    default route: traffic can reach only the /24."""
    journal.record("namespace", name=host.namespace)
    run("ip", "netns", "add", host.namespace)
    journal.record("link", name=host.link)
    run(
        "ip",
        "link",
        "add",
        host.link,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        host.namespace,
    )
    run("ip", "link", "set", host.link, "master", BRIDGE, "up")
    run("ip", "-n", host.namespace, "addr", "add", f"{host.address}/{PREFIX_LENGTH}", "dev", "eth0")
    run("ip", "-n", host.namespace, "link", "set", "eth0", "up")
    run("ip", "-n", host.namespace, "link", "set", "lo", "up")


def our_namespaces() -> list[str]:
    """Every namespace named with the tool's prefix (the journal's and any it missed)."""
    names = [line.split()[0] for line in run("ip", "netns", "list").splitlines() if line.strip()]
    return [name for name in names if name.startswith(f"{PREFIX}-")]


def our_links() -> list[str]:
    names = []
    for line in run("ip", "-o", "link", "show").splitlines():
        name = line.split(":", 2)[1].strip().split("@")[0]
        if name == BRIDGE or name.startswith(f"{PREFIX}-"):
            names.append(name)
    return names


def namespace_pids(namespace: str) -> list[int]:
    output = run("ip", "netns", "pids", namespace, check=False)
    return [int(word) for word in output.split() if word.isdigit()]


def remove_namespace(namespace: str) -> None:
    run("ip", "netns", "del", namespace, check=False)


def remove_link(name: str) -> None:
    """Deleting one end of a veth pair deletes both; the bridge goes with its own name."""
    run("ip", "link", "del", name, check=False)
