"""What every server recipe is made of: the `Service` record, the error the user acts on,
and the probes and binary look-ups the recipes share."""

import shutil
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devstack.config import StackConfig

PROBE_TIMEOUT = 2.0


class StackError(RuntimeError):
    """A problem the user can act on; the message says what to do."""


@dataclass
class Service:
    name: str
    ports: list[str]
    command: Callable[[StackConfig], list[str]]
    probe: Callable[[StackConfig], bool]
    prepare: Callable[[StackConfig], None] | None = None
    after_start: Callable[[StackConfig], None] | None = None
    environment: Callable[[StackConfig], dict[str, str]] = field(default=lambda c: {})
    stop_signal: int = signal.SIGTERM
    ready_timeout: float = 60.0
    installed: Callable[[], bool] = field(default=lambda: True)
    install_hint: str = ""  # what `make up` suggests when `installed()` is false


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
