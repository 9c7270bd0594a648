"""Several servers started, probed and stopped together, beside any stack: the replicated and
TLS set-ups (a Valkey master with a replica and Sentinels, a NATS cluster) that tests and the
topology rehearsal start on free loopback ports."""

import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devstack import process
from devstack.config import StackConfig, free_ports
from devstack.servers.base import Service, StackError
from devstack.stack import prepare_state_dir, start
from devstack.waiting import wait_until

SETTLE_SECONDS = 60.0


def always(config: StackConfig) -> bool:
    return True


@dataclass
class ServerGroup:
    """`services` in start-up order in a state directory and on ports of their own; `settled`
    holds once they work together (replicas synced, peers found)."""

    services: list[Service]
    settled: Callable[[StackConfig], bool] = always
    config: StackConfig = field(init=False)

    def __post_init__(self) -> None:
        names = [name for service in self.services for name in service.ports]
        # Made by `up` (prepare_state_dir): a group whose services join another makes none.
        state_dir = Path(tempfile.gettempdir()) / f"sbs-group-{uuid.uuid4().hex[:12]}"
        self.config = StackConfig(state_dir, dict(zip(names, free_ports(len(names)), strict=True)))

    def port(self, name: str) -> int:
        return self.config.ports[name]

    def up(self) -> None:
        prepare_state_dir(self.config)
        for service in self.services:
            start(self.config, service)
        if not wait_until(lambda: self.settled(self.config), SETTLE_SECONDS, 0.1):
            raise StackError(f"{self.names} did not settle within {SETTLE_SECONDS:.0f}s")

    def start(self, name: str) -> None:
        """Start one member again (after a kill), as it was configured."""
        start(self.config, self.service(name))

    def pid(self, name: str) -> int:
        pid = process.running_pid(self.config.state_dir, name)
        if pid is None:
            raise StackError(f"{name} is not running")
        return pid

    def service(self, name: str) -> Service:
        (found,) = [service for service in self.services if service.name == name]
        return found

    @property
    def names(self) -> list[str]:
        return [service.name for service in self.services]

    def down(self, remove: bool = True) -> None:
        for service in reversed(self.services):
            process.stop(self.config.state_dir, service.name, service.stop_signal)
        if remove:
            shutil.rmtree(self.config.state_dir, ignore_errors=True)
