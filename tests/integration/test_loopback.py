"""Every socket the local stack listens on is bound to loopback, never 0.0.0.0 or ::."""

from pathlib import Path

from devstack import process
from devstack.config import StackConfig
from devstack.stack import enabled_services
from tests.integration.helpers import process_tree

LISTEN = "0A"
LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1


def listening_sockets() -> dict[str, tuple[str, int]]:
    """Socket inode -> (local address in /proc hex form, port) for every TCP listener."""
    sockets = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] == LISTEN:
                sockets[fields[9]] = (address, int(port, 16))
    return sockets


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = descriptor.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def test_every_stack_process_listens_on_loopback_only(stack: StackConfig) -> None:
    listeners = listening_sockets()
    seen: dict[str, list[tuple[str, int]]] = {}
    for service in enabled_services():
        pid = process.running_pid(stack.state_dir, service.name)
        assert pid is not None, service.name
        for member in process_tree(pid):
            for inode in socket_inodes(member):
                if inode in listeners:
                    seen.setdefault(service.name, []).append(listeners[inode])
    assert {"api", "worker", "postgresql", "nats", "temporal"} <= set(seen)
    exposed = {
        name: [port for address, port in sockets if address not in LOOPBACK]
        for name, sockets in seen.items()
    }
    assert {name: ports for name, ports in exposed.items() if ports} == {}
