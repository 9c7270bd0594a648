"""Where the local stack keeps its state and which loopback ports it uses."""

import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values
from sqlalchemy.engine import URL, make_url

from app.config import DEV_TOKEN, Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

# The app's own defaults, read from `Settings` without the environment or `.env`: the stack
# serves the credentials, database and ports the app expects, stated in app/config.py only.
APP_DEFAULTS = Settings.model_construct()
DATABASE_USER = APP_DEFAULTS.database_user
DATABASE_PASSWORD = APP_DEFAULTS.database_password
DATABASE_NAME = APP_DEFAULTS.database_name


def url_port(url: str) -> int:
    """The port a URL names (the app's Redis and NATS defaults name theirs)."""
    port = urlsplit(url).port
    if port is None:
        raise ValueError(f"{url!r} names no port")
    return port


def moved_to(url: str, host: str, port: int) -> str:
    """`url` with its host and port replaced, scheme, path and query kept."""
    return urlsplit(url)._replace(netloc=f"{host}:{port}").geturl()


# Port name -> (environment variable that moves it, default). The app's servers default to the
# ports `Settings` expects; the others to the spec's or upstream's.
PORT_VARIABLES: dict[str, tuple[str, int]] = {
    "api": ("API_PORT", APP_DEFAULTS.api_port),
    "postgresql": ("DATABASE_PORT", APP_DEFAULTS.database_port),
    "temporal": ("TEMPORAL_PORT", APP_DEFAULTS.temporal_port),
    "temporal_ui": ("TEMPORAL_UI_PORT", 8233),
    "temporal_metrics": ("TEMPORAL_METRICS_PORT", 9091),
    "redis": ("REDIS_PORT", url_port(APP_DEFAULTS.redis_url)),
    "nats": ("NATS_PORT", url_port(APP_DEFAULTS.nats_url)),
    "nats_monitor": ("NATS_MONITOR_PORT", 8222),
    "prometheus": ("PROMETHEUS_PORT", 9090),
    "worker_metrics": ("WORKER_METRICS_PORT", APP_DEFAULTS.worker_metrics_port),
    "worker_health": ("WORKER_HEALTH_PORT", APP_DEFAULTS.worker_health_port),
    # Observability (devstack/observability.py): the upstream default ports.
    "alertmanager": ("ALERTMANAGER_PORT", 9093),
    "postgres_exporter": ("POSTGRES_EXPORTER_PORT", 9187),
    "redis_exporter": ("REDIS_EXPORTER_PORT", 9121),
    "blackbox_exporter": ("BLACKBOX_EXPORTER_PORT", 9115),
}


# What the stack sets for the API and the worker unless the user did (environment or .env).
LOCAL_DEFAULTS = {
    "DATABASE_WAIT_TIMEOUT": "30",
    "TEMPORAL_WAIT_TIMEOUT": "30",
    # No load balancer in front of a local API: nothing to drain before stopping it.
    "SHUTDOWN_DRAIN_SECONDS": "0",
}


def user_variables() -> dict[str, str]:
    """The project's `.env` (as the API and the worker read it), the environment winning."""
    from_file = {k: v for k, v in dotenv_values(PROJECT_ROOT / ".env").items() if v is not None}
    return {**from_file, **os.environ}


def free_ports(count: int) -> list[int]:
    """Ports the kernel reports free right now, all distinct."""
    sockets = []
    for _ in range(count):
        probe = socket.socket()
        probe.bind((HOST, 0))
        sockets.append(probe)
    ports = [probe.getsockname()[1] for probe in sockets]
    for probe in sockets:
        probe.close()
    return ports


@dataclass
class StackConfig:
    state_dir: Path
    ports: dict[str, int]
    api_token: str = DEV_TOKEN
    scrape_interval: str = "15s"
    # Where NATS, Redis and Temporal listen: loopback locally; a host's own address (or every
    # interface of its network namespace) in the rehearsal's topology (rehearsal/).
    listen_host: str = HOST

    @classmethod
    def from_environment(cls) -> "StackConfig":
        variables = user_variables()
        ports = {}
        for name, (variable, default) in PORT_VARIABLES.items():
            raw = variables.get(variable, str(default))
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise SystemExit(f"{variable}={raw!r} is not a valid port number")
            ports[name] = int(raw)
        state_dir = Path(variables.get("SBS_STATE_DIR", PROJECT_ROOT / ".state")).resolve()
        token = variables.get("SBS_API_TOKEN") or DEV_TOKEN
        return cls(state_dir=state_dir, ports=ports, api_token=token)

    @classmethod
    def ephemeral(cls, api_token: str = DEV_TOKEN, scrape_interval: str = "15s") -> "StackConfig":
        """Free loopback ports and a new state directory: a stack beside any other (tests, bench).

        The directory is world-traversable because PostgreSQL runs as `nobody` under root.
        """
        state_dir = Path(tempfile.mkdtemp(prefix="sbs-stack-"))
        state_dir.chmod(0o755)
        ports = dict(zip(PORT_VARIABLES, free_ports(len(PORT_VARIABLES)), strict=True))
        return cls(state_dir, ports, api_token=api_token, scrape_interval=scrape_interval)

    def path(self, *parts: str) -> Path:
        return self.state_dir.joinpath(*parts)

    def url(self, port_name: str, path: str = "") -> str:
        return f"http://{HOST}:{self.ports[port_name]}{path}"

    @property
    def api_url(self) -> str:
        return self.url("api")

    @property
    def prometheus_url(self) -> str:
        return self.url("prometheus")

    @property
    def alertmanager_url(self) -> str:
        return self.url("alertmanager")

    @property
    def worker_metrics_url(self) -> str:
        return self.url("worker_metrics", "/metrics")

    def database(self, drivername: str | None = None, **query: str) -> URL:
        """The app's default database URL moved to the stack's PostgreSQL (another driver and
        query parameters for clients other than the app)."""
        url = make_url(APP_DEFAULTS.database_url).set(host=HOST, port=self.ports["postgresql"])
        return url.set(drivername=drivername or url.drivername, query=query)

    @property
    def database_url(self) -> str:
        return self.database().render_as_string(hide_password=False)

    @property
    def redis_url(self) -> str:
        return moved_to(APP_DEFAULTS.redis_url, HOST, self.ports["redis"])

    @property
    def nats_url(self) -> str:
        return moved_to(APP_DEFAULTS.nats_url, HOST, self.ports["nats"])

    def app_environment(self) -> dict[str, str]:
        """The variables the API and the worker get: the stack's addresses (these win over the
        user's), and LOCAL_DEFAULTS where the user set nothing."""
        user = user_variables()
        defaults = {name: value for name, value in LOCAL_DEFAULTS.items() if name not in user}
        return defaults | {
            "DATABASE_URL": self.database_url,
            "TEMPORAL_HOST": HOST,
            "TEMPORAL_PORT": str(self.ports["temporal"]),
            "REDIS_URL": self.redis_url,
            "NATS_URL": self.nats_url,
            "API_HOST": HOST,
            "API_PORT": str(self.ports["api"]),
            "WORKER_HOST": HOST,
            "WORKER_METRICS_PORT": str(self.ports["worker_metrics"]),
            "WORKER_HEALTH_PORT": str(self.ports["worker_health"]),
            "SBS_API_TOKEN": self.api_token,
        }
