"""What every server recipe is made of: the `Service` record, the error the user acts on,
and the probes and binary look-ups the recipes share."""

import shutil
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devstack.config import HOST, StackConfig

PROBE_TIMEOUT = 2.0


class StackError(RuntimeError):
    """A problem the user can act on; the message says what to do."""


@dataclass(frozen=True)
class Package:
    """A server program from a Debian package (no PyPI build exists); upstream's binary name is
    accepted too. The stack runs such a server only when it is installed."""

    debian_package: str
    binaries: tuple[str, ...]

    def find(self) -> str | None:
        for name in self.binaries:
            found = shutil.which(name)
            if found is not None:
                return found
        return None

    def installed(self) -> bool:
        return self.find() is not None

    def binary(self) -> str:
        found = self.find()
        if found is None:
            raise StackError(f"{self.binaries[0]} is not installed: {self.install_hint}")
        return found

    @property
    def install_hint(self) -> str:
        return f"apt-get install {self.debian_package}"


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a server (or client) certificate, its key and the CA that verifies peers."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def no_environment(config: StackConfig) -> dict[str, str]:
    return {}


@dataclass
class Service:
    """One server's recipe: its ports (names in StackConfig.ports), how to start and probe it."""

    name: str
    ports: list[str]
    command: Callable[[StackConfig], list[str]]
    probe: Callable[[StackConfig], bool]
    prepare: Callable[[StackConfig], None] | None = None
    after_start: Callable[[StackConfig], None] | None = None
    environment: Callable[[StackConfig], dict[str, str]] = no_environment
    stop_signal: int = signal.SIGTERM
    ready_timeout: float = 60.0
    package: Package | None = None  # a Debian package: the server is optional

    def installed(self) -> bool:
        return self.package is None or self.package.installed()

    @property
    def install_hint(self) -> str:
        """What `make up` suggests when the server is not installed."""
        return "" if self.package is None else self.package.install_hint


def prometheus_style(package: Package, config: StackConfig, port: str, *flags: str) -> list[str]:
    """The command of a Prometheus-project server (Alertmanager, the exporters): its binary,
    listening on the stack's loopback port `port`, and `flags`."""
    return [package.binary(), f"--web.listen-address={HOST}:{config.ports[port]}", *flags]


def venv_binary(name: str) -> str:
    """A console binary shipped by a package installed beside this interpreter."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise StackError(f"'{name}' not found: run 'make setup' to install the stack packages")
    return found


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False
