"""The rehearsal's hosts: one network namespace each, on one bridge, in one private /24."""

from dataclasses import dataclass

PREFIX = "sbsr"  # every namespace, link and file of the tool starts with it
BRIDGE = f"{PREFIX}0"
SUBNET = "10.231.23"
PREFIX_LENGTH = 24
# The root namespace's own address on the bridge: the load generator and the probes use it.
OBSERVER_ADDRESS = f"{SUBNET}.1"


@dataclass(frozen=True)
class Host:
    name: str
    number: int  # last octet of its address
    role: str

    @property
    def address(self) -> str:
        return f"{SUBNET}.{self.number}"

    @property
    def namespace(self) -> str:
        return f"{PREFIX}-{self.name}"

    @property
    def link(self) -> str:
        """The root namespace's end of the host's veth pair (at most 15 characters)."""
        return f"{PREFIX}-{self.name}"


HOSTS = [
    Host("lb", 10, "HAProxy in front of the API replicas"),
    Host("api1", 11, "API replica"),
    Host("api2", 12, "API replica"),
    Host("wrk1", 21, "Temporal worker"),
    Host("wrk2", 22, "Temporal worker"),
    Host("pg1", 31, "PostgreSQL under Patroni"),
    Host("pg2", 32, "PostgreSQL under Patroni"),
    Host("etcd1", 41, "etcd (Patroni's DCS)"),
    Host("etcd2", 42, "etcd (Patroni's DCS)"),
    Host("etcd3", 43, "etcd (Patroni's DCS)"),
    Host("nats1", 51, "NATS JetStream cluster node"),
    Host("nats2", 52, "NATS JetStream cluster node"),
    Host("nats3", 53, "NATS JetStream cluster node"),
    Host("vk1", 61, "Valkey (initial master)"),
    Host("vk2", 62, "Valkey (initial replica)"),
    Host("sen1", 63, "Valkey Sentinel"),
    Host("sen2", 64, "Valkey Sentinel"),
    Host("sen3", 65, "Valkey Sentinel"),
    Host("temporal", 71, "Temporal dev server"),
    Host("prom", 81, "Prometheus"),
]
BY_NAME = {host.name: host for host in HOSTS}


def host(name: str) -> Host:
    return BY_NAME[name]


def hosts_with(prefix: str) -> list[Host]:
    return [candidate for candidate in HOSTS if candidate.name.startswith(prefix)]
