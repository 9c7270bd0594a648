"""Faults, each with a start and an end: a host killed and brought back, frozen, partitioned,
a split into two groups, a slow link, added latency, the PostgreSQL primary lost, a NATS node
lost, the Valkey master lost, a rolling restart. A seed fixes the schedule."""

import asyncio
import functools
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from devstack import process
from rehearsal import latency, network, processes, servers
from rehearsal.history import Fault
from rehearsal.journal import Journal
from rehearsal.topology import HOSTS, SUBNET, Host, host

# Hosts a fault may hit: every one has a twin. The load balancer and Temporal are single (in
# production Temporal's own chart gives it replicas); Valkey's master is lost by its own fault
# class (Sentinel promotes the replica, the API follows it).
REDUNDANT = [
    "api1",
    "api2",
    "wrk1",
    "wrk2",
    "pg1",
    "pg2",
    "nats1",
    "nats2",
    "nats3",
    "etcd1",
    "etcd2",
    "etcd3",
]
SLOW_RATE = "512kbit"
# Latency delays a host's outbound connections: those of the clients (API, worker, Patroni)
# and of etcd, whose members each dial the others. Not a NATS node: a route is dialled by
# either node, and which one wins the reconnect after the cut is a race.
DELAYABLE = [name for name in REDUNDANT if not name.startswith("nats")]


@dataclass(frozen=True)
class Planned:
    kind: str
    target: list[str]  # host names
    seconds: float  # how long the fault is held (kills: how long the host stays down)


def schedule(seed: int, rounds: int) -> list[Planned]:
    """Every fault class `rounds` times, in an order and on targets the seed fixes."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not a secret
    plan = []
    for _ in range(rounds):
        kinds = [
            "host-kill",
            "freeze",
            "partition",
            "split",
            "slow-link",
            "latency",
            "postgres-failover",
            "nats-node-loss",
            "valkey-master-loss",
            "rolling-restart",
        ]
        rng.shuffle(kinds)
        for kind in kinds:
            match kind:
                case "host-kill":
                    plan.append(Planned(kind, [rng.choice(REDUNDANT)], rng.uniform(5, 10)))
                case "freeze":
                    plan.append(Planned(kind, [rng.choice(REDUNDANT)], rng.uniform(10, 20)))
                case "partition":
                    plan.append(Planned(kind, [rng.choice(REDUNDANT)], rng.uniform(8, 15)))
                case "split":
                    side = rng.choice(
                        [
                            ["pg1", "etcd1", "nats1", "api1", "wrk1"],
                            ["pg2", "etcd2", "nats2", "api2", "wrk2"],
                        ]
                    )
                    plan.append(Planned(kind, side, rng.uniform(8, 15)))
                case "slow-link":
                    plan.append(Planned(kind, [rng.choice(REDUNDANT)], rng.uniform(8, 15)))
                case "latency":
                    plan.append(Planned(kind, [rng.choice(DELAYABLE)], rng.uniform(8, 15)))
                case "postgres-failover":
                    plan.append(Planned(kind, ["primary"], rng.uniform(5, 10)))
                case "nats-node-loss":
                    plan.append(Planned(kind, [rng.choice(servers.nats_hosts()).name], 5.0))
                case "valkey-master-loss":
                    plan.append(Planned(kind, ["master"], rng.uniform(5, 10)))
                case _:
                    plan.append(Planned(kind, ["api1", "api2", "wrk1", "wrk2"], 0.0))
    return plan


def restart(journal: Journal, server: Host, synchronous: bool) -> None:
    """Start a host's servers again (after a kill), waiting until each serves."""
    name = server.name
    if name.startswith("api"):
        servers.start_api(journal, server)
        servers.wait_ready(f"the API on {name}", lambda: servers.api_ready(server), journal)
    elif name.startswith("wrk"):
        servers.start_worker(journal, server)
        servers.wait_ready(f"the worker on {name}", lambda: servers.worker_ready(server), journal)
    elif name.startswith("pg"):
        servers.start_patroni(journal, server, synchronous)
        servers.wait_ready(
            f"Patroni on {name}", lambda: servers.patroni_role(server) is not None, journal
        )
    elif name.startswith("nats"):
        servers.start_nats(journal, server)
        servers.wait_ready(f"NATS on {name}", lambda: servers.nats_ready(server), journal)
    elif name.startswith("etcd"):
        servers.start_etcd(journal, server)
    elif name.startswith("vk"):  # back as a replica of the master Sentinel promoted
        master = servers.valkey_master()
        servers.start_valkey(journal, server, master if master != server else None)
        servers.wait_ready(f"Valkey on {name}", lambda: servers.valkey_ready(server), journal)
    else:
        raise ValueError(f"no restart for host {name}")


@dataclass(frozen=True)
class Leadership:
    """Who leads a replicated dependency, for the fault that kills its leader."""

    current: Callable[[], Host | None]
    first: str  # the leader at the start, while none is named
    successor: str  # what the wait for a new leader says


LEADERSHIP = {
    "postgres-failover": Leadership(
        servers.database_primary, "pg1", "a standby promoted by Patroni"
    ),
    "valkey-master-loss": Leadership(
        servers.valkey_master, "vk1", "a replica promoted by Sentinel"
    ),
}


def wait_for_promotion(leadership: Leadership, lost: Host, journal: Journal) -> None:
    def promoted() -> bool:
        leader = leadership.current()
        return leader is not None and leader != lost

    servers.wait_ready(leadership.successor, promoted, journal)


def kill_host(server: Host) -> None:
    processes.kill_namespace(server.namespace)


def partition_rules(server: Host, peers: list[Host]) -> list[list[str]]:
    """DROP both ways: from every other address of the /24 (no peers given), or from the peers
    (iptables takes a comma list in one call: a split costs two calls per host)."""
    sources = ",".join(peer.address for peer in peers) if peers else f"{SUBNET}.0/24"
    return [["INPUT", "-s", sources, "-j", "DROP"], ["OUTPUT", "-d", sources, "-j", "DROP"]]


def rolling_restart(journal: Journal, names: list[str]) -> None:
    """One at a time: SIGTERM (the API drains: readiness 503, HAProxy takes it out), wait for
    it to exit, start it again, wait until it serves (an API: until HAProxy routes to it)."""
    for name in names:
        server = host(name)
        label = f"api-{name}" if name.startswith("api") else f"worker-{name}"
        pid = process.running_pid(journal.directory, label)
        if pid is not None:
            process.send(pid, signal.SIGTERM)
            if not process.all_gone([pid], process.STOP_GRACE_SECONDS):
                process.kill_and_wait([pid])
        restart(journal, server, synchronous=True)
        if name.startswith("api"):
            servers.wait_ready(
                f"HAProxy routing to {name}",
                functools.partial(servers.balancer_routes_to, server),
                journal,
            )


class Injector:
    """Applies the planned faults one after another, recording each window."""

    def __init__(self, journal: Journal, began: float, synchronous: bool) -> None:
        self.journal = journal
        self.began = began
        self.synchronous = synchronous
        self.faults: list[Fault] = []

    def now(self) -> float:
        return time.monotonic() - self.began

    async def hold(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def inject(self, planned: Planned) -> Fault:
        names = planned.target
        leadership = LEADERSHIP.get(planned.kind)
        if leadership is not None:
            leader = await asyncio.to_thread(leadership.current)
            names = [leader.name if leader else leadership.first]
        targets = [host(name) for name in names]
        isolated = False
        delayed: int | None = None
        if planned.kind in ("partition", "split"):
            isolated = await asyncio.to_thread(servers.database_primary) in targets
        started = self.now()
        print(
            f"  {started:7.1f}s {planned.kind} on {','.join(names)}"
            + (" (the database primary among them)" if isolated else ""),
            flush=True,
        )
        heal: Callable[[], None]
        match planned.kind:
            case "host-kill" | "postgres-failover" | "nats-node-loss" | "valkey-master-loss":
                await asyncio.to_thread(kill_host, targets[0])
                await self.hold(planned.seconds)
                if leadership is not None:  # the old leader returns as a follower
                    await asyncio.to_thread(
                        wait_for_promotion, leadership, targets[0], self.journal
                    )

                def heal() -> None:
                    restart(self.journal, targets[0], self.synchronous)
            case "freeze":
                await asyncio.to_thread(processes.signal_host, targets[0], signal.SIGSTOP)
                await self.hold(planned.seconds)

                def heal() -> None:
                    processes.signal_host(targets[0], signal.SIGCONT)
            case "partition" | "split":
                others = [h for h in HOSTS if h not in targets] if len(targets) > 1 else []
                rules = {t.name: partition_rules(t, others) for t in targets}
                for target in targets:
                    self.journal.record("iptables", namespace=target.namespace)
                    await asyncio.to_thread(
                        network.iptables, target.namespace, "-A", rules[target.name]
                    )
                await self.hold(planned.seconds)

                def heal() -> None:
                    for target in targets:
                        network.iptables(target.namespace, "-D", rules[target.name], check=False)
            case "slow-link":
                tbf = [
                    "tc",
                    "qdisc",
                    "add",
                    "dev",
                    "eth0",
                    "root",
                    "tbf",
                    "rate",
                    SLOW_RATE,
                    "burst",
                    "16kbit",
                    "latency",
                    "100ms",
                ]
                await asyncio.to_thread(
                    network.run, *network.in_namespace(targets[0].namespace, *tbf)
                )
                await self.hold(planned.seconds)

                def heal() -> None:
                    network.run(
                        *network.in_namespace(
                            targets[0].namespace, "tc", "qdisc", "del", "dev", "eth0", "root"
                        ),
                        check=False,
                    )
            case "latency":
                await asyncio.to_thread(latency.add, self.journal, targets[0])
                await self.hold(planned.seconds)
                delayed = await asyncio.to_thread(latency.delayed_connections, targets[0])

                def heal() -> None:
                    latency.remove(self.journal, targets[0])
            case "rolling-restart":

                def heal() -> None:
                    rolling_restart(self.journal, names)
            case _:
                raise ValueError(f"unknown fault class {planned.kind}")
        await asyncio.to_thread(heal)
        fault = Fault(
            planned.kind,
            ",".join(names),
            round(started, 3),
            round(self.now(), 3),
            primary_isolated=isolated,
            delayed_connections=delayed,
        )
        self.faults.append(fault)
        return fault
