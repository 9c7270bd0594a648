"""NATS as a three-node cluster: an API given the nodes in NATS_URL loses one node (SIGKILLed,
or frozen with SIGSTOP) for 10 s, three rounds in a row with a different node each time, and
`/nats/test` failures, if any, stop within 5 s of the fault (every call started later answers
200); `/health` answers 200 while the node is still gone. An API given one node only learns
the others from the cluster and moves to them when that node dies.

One cluster (devstack/servers/nats_cluster.py) serves the whole module; the faulted node comes
back after each round. Each round faults the node the API is connected to, unless that one was
faulted already, so the reconnect path is what is measured.
"""

import json
import os
import signal
import time
import urllib.request
import uuid
from collections.abc import Iterator

import httpx
import pytest

from app.config import Settings
from devstack.config import StackConfig
from devstack.servers import nats_cluster
from devstack.servers.group import ServerGroup
from devstack.servers.nats_cluster import NODES
from tests.integration.failover import Outcome, failures, record_calls, summary
from tests.integration.helpers import ApiProcess, api_process, kill, process_tree
from tests.waiting import poll, wait_for

FAULT_SECONDS = 10.0
# The acceptance bound: no call started this long after the fault fails.
FAILURES_STOP_SECONDS = 5.0
SETTINGS = Settings()
MARGIN_SECONDS = 1.5  # client-side scheduling on a loaded 2-core machine
SETTLE_SECONDS = 30.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[ServerGroup]:
    group = nats_cluster.cluster_group()
    try:
        group.up()
        yield group
    finally:
        group.down()


@pytest.fixture(scope="module")
def client_name() -> str:
    return f"sbs-api-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def cluster_api(stack: StackConfig, cluster: ServerGroup, client_name: str) -> Iterator[ApiProcess]:
    with api_process(
        stack, NATS_URL=nats_cluster.cluster_urls(cluster), OTEL_SERVICE_NAME=client_name
    ) as started:
        started.wait_ready()
        yield started


def connected_node(cluster: ServerGroup, client_name: str) -> str | None:
    """The node that holds the API's connection (its monitoring port's /connz)."""
    for node in NODES:
        url = cluster.config.url(nats_cluster.ports_of(node)[1], "/connz")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                connections = json.load(response)["connections"] or []
        except OSError:
            continue
        if any(connection.get("name") == client_name for connection in connections):
            return node
    return None


def nats_test(client: httpx.Client) -> int:
    try:
        return client.post("/nats/test", json={"message": "cluster"}).status_code
    except httpx.TransportError:
        return 0


def lose_node(
    cluster: ServerGroup, node: str, fault: str, api: httpx.Client
) -> tuple[float, list[Outcome]]:
    """Fault `node` for FAULT_SECONDS while calling `/nats/test`; then bring it back."""
    tree = process_tree(cluster.pid(node))
    faulted_at = time.monotonic()
    if fault == "sigkill":
        kill(cluster.config, node)
    else:
        for member in tree:
            os.kill(member, signal.SIGSTOP)
    try:
        outcomes = record_calls(lambda: nats_test(api), lambda _: False, FAULT_SECONDS)
        health = poll(lambda: api.get("/health"), lambda r: r.status_code == 200, 2)
        assert health.status_code == 200, f"/health while {node} is gone: {health.text}"
    finally:
        if fault == "sigkill":
            cluster.start(node)
        else:
            for member in tree:
                os.kill(member, signal.SIGCONT)
    wait_for(lambda: cluster.settled(cluster.config), SETTLE_SECONDS, "the cluster whole again")
    return faulted_at, outcomes


def assert_failures_stopped(faulted_at: float, outcomes: list[Outcome], what: str) -> None:
    timeline = summary(outcomes, faulted_at)
    assert {o.status for o in outcomes} <= {200, 503}, f"{what}: {timeline}"
    assert all(o.ended - o.started < SETTINGS.request_timeout + MARGIN_SECONDS for o in outcomes)
    late = [o for o in failures(outcomes) if o.started - faulted_at > FAILURES_STOP_SECONDS]
    assert not late, f"{what}: failures went on past {FAILURES_STOP_SECONDS}s: {timeline}"
    assert sum(o.status == 200 for o in outcomes) >= 3, f"{what}: {timeline}"
    print(f"{what}: {timeline}")


FAULTED: dict[str, list[str]] = {"sigkill": [], "sigstop": []}


@pytest.mark.parametrize(
    ("fault", "round"), [(fault, n) for fault in ("sigkill", "sigstop") for n in (1, 2, 3)]
)
def test_losing_any_one_node_costs_at_most_a_short_reconnect(
    cluster: ServerGroup, cluster_api: ApiProcess, client_name: str, fault: str, round: int
) -> None:
    api = cluster_api.client()
    wait_for(lambda: nats_test(api) == 200, SETTLE_SECONDS, "/nats/test answers")
    connected = connected_node(cluster, client_name)
    assert connected is not None, "the API's connection is on no node"
    spared = [node for node in NODES if node not in FAULTED[fault]]
    node = connected if connected in spared else spared[0]
    FAULTED[fault].append(node)
    faulted_at, outcomes = lose_node(cluster, node, fault, api)
    what = f"{fault} round {round}: {node} (API on {connected})"
    assert_failures_stopped(faulted_at, outcomes, what)
    api.close()


def test_the_client_learns_the_other_members_from_one_seed(
    stack: StackConfig, cluster: ServerGroup
) -> None:
    seed = NODES[0]
    name = f"sbs-api-seed-{uuid.uuid4().hex[:8]}"
    with api_process(
        stack, NATS_URL=nats_cluster.client_url(cluster, seed), OTEL_SERVICE_NAME=name
    ) as seeded:
        seeded.wait_ready()
        with seeded.client() as api:
            assert nats_test(api) == 200
            assert connected_node(cluster, name) == seed
            faulted_at, outcomes = lose_node(cluster, seed, "sigkill", api)
            assert_failures_stopped(faulted_at, outcomes, f"seed {seed} killed")
            assert connected_node(cluster, name) in NODES[1:]
