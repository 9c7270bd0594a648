"""The added-latency fault on two real hosts of the topology (namespaces on the bridge): the
delay proxy takes every new connection of the host to the servers and delays it, the ones
established before are aborted, idle ones too, so that they reconnect through it, and the heal
takes it all away.
It runs on the topology tests' worker: both use the bridge."""

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rehearsal import latency, network, processes, teardown
from rehearsal.journal import Journal
from rehearsal.topology import PREFIX, Host, host
from tests.waiting import wait_for

pytestmark = pytest.mark.xdist_group("rehearsal/test_rehearsal_topology")

ECHO = Path(__file__).with_name("echo.py")
ECHO_PORT = "5432"  # a server's port, as the PostgreSQL host's
DELAY = latency.DELAY_MS / 1000


@pytest.fixture
def journal() -> Iterator[Journal]:
    parent = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-test-"))
    parent.chmod(0o755)
    journal = Journal(parent / "state")
    journal.open()
    yield journal
    teardown.down(journal)
    assert network.our_namespaces() == []


def in_host(server: Host, *arguments: str) -> list[str]:
    return network.in_namespace(server.namespace, sys.executable, str(ECHO), *arguments)


def probe(client: Host, server: Host) -> float:
    done = subprocess.run(
        in_host(client, "probe", server.address, ECHO_PORT),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return float(done.stdout)


def hold(client: Host, server: Host, flag: Path) -> subprocess.Popen[str]:
    """A connection with one round trip done; its second one waits for `flag`."""
    held = subprocess.Popen(
        in_host(client, "hold", server.address, ECHO_PORT, str(flag)),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert held.stdout is not None
    assert held.stdout.readline().strip() == "ready"
    return held


def outcome(held: subprocess.Popen[str], flag: Path) -> str:
    flag.touch()
    output, _ = held.communicate(timeout=30)
    return output.strip()


def test_added_latency_delays_the_hosts_connections_and_the_heal_removes_it(
    journal: Journal, tmp_path: Path
) -> None:
    client, server = host("api1"), host("pg1")
    network.make_bridge(journal)
    for each in (client, server):
        network.make_host(journal, each)
    serve = [sys.executable, str(ECHO), "serve", server.address, ECHO_PORT]
    processes.start(journal, server, "echo", serve, dict(os.environ))
    wait_for(lambda: probe_works(client, server), 30, "the echo server answering")

    # Twice: the second time the namespace's NAT table is there before the connections are.
    for time in ("first", "second"):
        before = hold(client, server, tmp_path / f"{time}-before")
        latency.add(journal, client)
        # Aborted at once, while idle: a worker's long poll would send nothing for a minute.
        assert established(client, server) == [], f"{time}: an idle connection was kept"
        assert outcome(before, tmp_path / f"{time}-before") == "cut", f"{time}: one was kept"
        assert probe(client, server) >= 2 * DELAY
        through = hold(client, server, tmp_path / f"{time}-through")
        assert latency.delayed_connections(client) >= 1

        latency.remove(journal, client)
        assert outcome(through, tmp_path / f"{time}-through") == "cut"
        assert not latency.listening(client), "the delay proxy outlived the heal"
        assert latency.delayed_connections(client) == 0
        assert probe(client, server) < 2 * DELAY, f"{time}: still delayed after the heal"
        rules = network.run(*network.in_namespace(client.namespace, "iptables", "-t", "nat", "-S"))
        assert "REDIRECT" not in rules


def established(client: Host, server: Host) -> list[str]:
    """The client's established connections to the echo server."""
    found = latency.ss(
        client, "-Htn", "state", "established", "dst", f"{server.address}:{ECHO_PORT}"
    )
    return found.splitlines()


def probe_works(client: Host, server: Host) -> bool:
    try:
        probe(client, server)
    except subprocess.CalledProcessError:
        return False
    return True
