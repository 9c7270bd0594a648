"""`up`: lay out the topology (namespaces on the bridge, then the servers in dependency order)."""

import time

from devstack.privileges import running_as_root, unprivileged_can
from devstack.servers.base import StackError
from rehearsal import network, servers
from rehearsal.journal import STATE_DIR_VARIABLE, Journal
from rehearsal.topology import BRIDGE, HOSTS, OBSERVER_ADDRESS, host, hosts_with

DOWN_FIRST = "run 'make rehearsal-down' first"


def step(message: str) -> float:
    print(f"  {message} ...", flush=True)
    return time.monotonic()


def refuse_unless_clear(journal: Journal) -> None:
    """StackError, before anything is made, when a rehearsal is laid out already: this state
    directory's, or another's (one bridge name for all) or what a crashed one left."""
    if journal.path.exists():
        raise StackError(f"a rehearsal is already laid out ({journal.path}): {DOWN_FIRST}")
    left = network.our_links() + network.our_namespaces()
    if left:
        shown = ", ".join(left[:3]) + (", ..." if len(left) > 3 else "")
        raise StackError(f"a rehearsal's bridge or hosts exist ({shown}): {DOWN_FIRST}")


def up(journal: Journal, synchronous: bool = True) -> None:
    """Make every host and start every server; raises StackError naming what did not come up
    (the caller runs `down`)."""
    refuse_unless_clear(journal)
    journal.open()
    if running_as_root() and not unprivileged_can(["-x", str(journal.directory)]):
        raise StackError(
            f"PostgreSQL and Patroni run as 'nobody', who cannot enter {journal.directory}: "
            f"set {STATE_DIR_VARIABLE} to a directory under world-traversable parents"
        )
    step(f"bridge {BRIDGE} and {len(HOSTS)} namespaces")
    network.make_bridge(journal)
    for server in HOSTS:
        network.make_host(journal, server)

    step("etcd (3 members)")
    for server in servers.etcd_hosts():
        servers.start_etcd(journal, server)
    replication = "synchronous" if synchronous else "asynchronous"
    step(f"PostgreSQL primary + standby under Patroni ({replication})")
    first, *others = servers.postgres_hosts()
    servers.start_patroni(journal, first, synchronous)
    servers.wait_ready(
        "the PostgreSQL primary", lambda: servers.database_primary() is not None, journal
    )
    primary = servers.database_primary()
    assert primary is not None
    servers.create_app_database(primary)
    for server in others:
        servers.start_patroni(journal, server, synchronous)

    step("NATS cluster (3 nodes), Valkey master + replica, 3 Sentinels, Temporal")
    for server in servers.nats_hosts():
        servers.start_nats(journal, server)
    master, *replicas = servers.valkey_hosts()
    servers.start_valkey(journal, master, None)
    for server in replicas:
        servers.start_valkey(journal, server, master)
    for server in servers.sentinel_hosts():
        servers.start_sentinel(journal, server, master)
    temporal = host("temporal")
    servers.start_temporal(journal, temporal)
    servers.wait_each("the standby", others, servers.standby_ready, journal)
    servers.wait_each("NATS", servers.nats_hosts(), servers.nats_ready, journal)
    servers.wait_each("Valkey", servers.valkey_hosts(), servers.valkey_ready, journal)
    servers.wait_each("Sentinel", servers.sentinel_hosts(), servers.sentinel_ready, journal)
    servers.wait_ready("Temporal", lambda: servers.temporal_ready(temporal), journal)

    step("API replicas (2), workers (2), HAProxy, Prometheus")
    for server in hosts_with("api"):
        servers.start_api(journal, server)
    for server in hosts_with("wrk"):
        servers.start_worker(journal, server)
    servers.start_haproxy(journal, host("lb"))
    servers.start_prometheus(journal, host("prom"))
    servers.wait_each("the API", hosts_with("api"), servers.api_ready, journal)
    servers.wait_each("the worker", hosts_with("wrk"), servers.worker_ready, journal)
    servers.wait_each("HAProxy", hosts_with("lb"), servers.balancer_ready, journal)


def describe() -> str:
    """Every host, its address and what runs on it."""
    lines = [
        f"{'host':<10} {'namespace':<15} {'address':<14} role",
        f"{'(observer)':<10} {'-':<15} {OBSERVER_ADDRESS:<14} load generator, probes",
    ]
    lines += [f"{h.name:<10} {h.namespace:<15} {h.address:<14} {h.role}" for h in HOSTS]
    lb = host("lb")
    lines.append(f"API through the load balancer: http://{lb.address}:{servers.API_PORT}")
    return "\n".join(lines)
