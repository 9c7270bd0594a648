"""The topology's servers: each started in its host's namespace, from devstack's recipes where
one exists (NATS, Valkey, Temporal, the API, the worker), and from their own configuration
where devstack runs none (etcd, Patroni, HAProxy, Sentinel, a many-host Prometheus)."""

import functools
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import psycopg
import redis as redis_client
import yaml
from psycopg import sql

from app.config import DEV_TOKEN
from devstack import waiting
from devstack.config import (
    APP_DEFAULTS,
    DATABASE_NAME,
    DATABASE_PASSWORD,
    DATABASE_USER,
    LOCAL_DEFAULTS,
    PORT_VARIABLES,
    StackConfig,
)
from devstack.privileges import (
    as_unprivileged,
    chown_to_unprivileged,
    running_as_root,
    unprivileged_can,
)
from devstack.servers import api, nats, nats_cluster, postgres, redis, temporal, worker
from devstack.servers.base import PROBE_TIMEOUT, StackError, http_ok, venv_binary
from devstack.servers.prometheus import PACKAGE as PROMETHEUS
from rehearsal import processes
from rehearsal.journal import Journal
from rehearsal.topology import SUBNET, Host, host, hosts_with

API_PORT = APP_DEFAULTS.api_port
POSTGRES_PORT = 5432
PATRONI_PORT = 8008
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
NATS_PORT = 4222
NATS_MONITOR_PORT = 8222
NATS_ROUTE_PORT = 6222
VALKEY_PORT = 6379
SENTINEL_PORT = 26379
SENTINEL_MASTER = "sbsr"
TEMPORAL_PORT = APP_DEFAULTS.temporal_port
TEMPORAL_METRICS_PORT = 9091
WORKER_METRICS_PORT = APP_DEFAULTS.worker_metrics_port
WORKER_HEALTH_PORT = APP_DEFAULTS.worker_health_port
HAPROXY_STATS_PORT = 8404
PROMETHEUS_PORT = 9090
REPLICATION_USER = "replicator"
REPLICATION_PASSWORD = "rehearsal-replication"  # noqa: S105 - a throwaway topology on a private /24
# A replica waits this long before the API sends it traffic again, and HAProxy takes a
# replica out after two failed checks half a second apart: drain a little longer than that.
SHUTDOWN_DRAIN_SECONDS = "2"
# Generous: on a loaded 2-core machine initdb and Patroni's first loops take minutes, not seconds.
READY_TIMEOUT = 300.0


def host_config(journal: Journal, server: Host) -> StackConfig:
    """A devstack configuration for one host: its own state directory, the default ports (each
    host has its own network namespace), listening on the host's address."""
    ports = {name: default for name, (_, default) in PORT_VARIABLES.items()}
    directory = journal.directory / server.name
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    return StackConfig(state_dir=directory, ports=ports, listen_host=server.address)


def url(server: Host, port: int, path: str = "") -> str:
    return f"http://{server.address}:{port}{path}"


def wait_each(
    what: str, hosts: list[Host], check: Callable[[Host], bool], journal: Journal
) -> None:
    """Wait (bounded) until `check` holds for every one of `hosts`."""
    for server in hosts:
        wait_ready(f"{what} on {server.name}", functools.partial(check, server), journal)


def wait_ready(what: str, condition: Callable[[], bool], journal: Journal) -> None:
    if not waiting.wait_until(condition, READY_TIMEOUT, interval=0.25):
        raise StackError(
            f"{what} not ready within {READY_TIMEOUT:.0f}s; logs in {journal.directory}"
        )


# etcd ------------------------------------------------------------------------------------


def etcd_hosts() -> list[Host]:
    return hosts_with("etcd")


def start_etcd(journal: Journal, server: Host) -> None:
    members = ",".join(f"{m.name}=http://{m.address}:{ETCD_PEER_PORT}" for m in etcd_hosts())
    data = journal.directory / server.name / "etcd"
    command = [
        shutil.which("etcd") or "etcd",
        f"--name={server.name}",
        f"--data-dir={data}",
        f"--listen-client-urls=http://{server.address}:{ETCD_CLIENT_PORT}",
        f"--advertise-client-urls=http://{server.address}:{ETCD_CLIENT_PORT}",
        f"--listen-peer-urls=http://{server.address}:{ETCD_PEER_PORT}",
        f"--initial-advertise-peer-urls=http://{server.address}:{ETCD_PEER_PORT}",
        f"--initial-cluster={members}",
        "--initial-cluster-state=new",
        "--initial-cluster-token=sbsr",
        "--logger=zap",
        "--log-level=warn",
    ]
    processes.start(journal, server, f"etcd-{server.name}", command, dict(os.environ))


# Patroni + PostgreSQL --------------------------------------------------------------------


def unprivileged_python(journal: Journal) -> tuple[str, dict[str, str]]:
    """An interpreter `nobody` can run Patroni with (PostgreSQL refuses root): this one when
    `nobody` can execute it, else a root-owned copy of its runtime in the state directory
    (pyenv keeps it under /root, which others cannot traverse), reading this venv's packages."""
    site_packages = sysconfig.get_paths()["purelib"]
    environment = {"PYTHONPATH": site_packages}
    executable = Path(sys.executable).resolve()
    if not running_as_root() or unprivileged_can(["-x", str(executable)]):
        probe = subprocess.run(
            as_unprivileged([str(executable), "-c", "import patroni"]),
            capture_output=True,
            timeout=60,
            check=False,
        )
        if probe.returncode == 0:
            return str(executable), environment
    base = Path(sys.base_prefix)
    copy = journal.directory / "python"
    if not (copy / "bin").exists():
        shutil.copytree(
            base,
            copy,
            symlinks=True,
            ignore=shutil.ignore_patterns("site-packages", "test", "tests", "idlelib", "tkinter"),
        )
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(copy / "bin" / version), {
        **environment,
        "PYTHONHOME": str(copy),
        "LD_LIBRARY_PATH": str(copy / "lib"),
    }


def postgres_hosts() -> list[Host]:
    return hosts_with("pg")


def patroni_config(journal: Journal, server: Host, synchronous: bool) -> Path:
    directory = journal.directory / server.name
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    document = {
        "scope": "sbsr",
        "name": server.name,
        "log": {"level": "WARNING"},
        "restapi": {
            "listen": f"{server.address}:{PATRONI_PORT}",
            "connect_address": f"{server.address}:{PATRONI_PORT}",
        },
        "etcd3": {"hosts": [f"{m.address}:{ETCD_CLIENT_PORT}" for m in etcd_hosts()]},
        "bootstrap": {
            "dcs": {
                # ttl is Patroni's minimum: the leader key of a lost primary expires within
                # 20 s; loop_wait + 2 * retry_timeout must stay below it.
                "ttl": 20,
                "loop_wait": 2,
                "retry_timeout": 5,
                "maximum_lag_on_failover": 1048576,
                "synchronous_mode": synchronous,
                # Off: with the standby lost the primary goes on accepting writes (async) rather
                # than stalling every write until a standby returns (docs/rehearsal.md: the cost).
                "synchronous_mode_strict": False,
                "postgresql": {
                    "use_pg_rewind": True,
                    "parameters": {
                        "wal_level": "replica",
                        "hot_standby": "on",
                        "wal_log_hints": "on",
                        "max_wal_senders": 10,
                        "max_replication_slots": 10,
                        "wal_sender_timeout": "5s",
                        "wal_receiver_timeout": "5s",
                    },
                },
            },
            "initdb": [{"encoding": "UTF8"}, "no-locale", {"auth-host": "scram-sha-256"}],
        },
        "postgresql": {
            "listen": f"{server.address}:{POSTGRES_PORT}",
            "connect_address": f"{server.address}:{POSTGRES_PORT}",
            "data_dir": str(data),
            "bin_dir": str(postgres.bin_dir()),
            "pgpass": str(directory / "pgpass"),
            # A fast checkpoint: the default spread one holds a new standby for minutes.
            "basebackup": [{"checkpoint": "fast"}],
            "authentication": {
                "superuser": {"username": DATABASE_USER, "password": DATABASE_PASSWORD},
                "replication": {"username": REPLICATION_USER, "password": REPLICATION_PASSWORD},
            },
            "parameters": {"unix_socket_directories": str(directory)},
            "pg_hba": [
                "local all all trust",
                f"host replication {REPLICATION_USER} {SUBNET}.0/24 scram-sha-256",
                f"host all all {SUBNET}.0/24 scram-sha-256",
            ],
        },
    }
    path = directory / "patroni.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    if running_as_root():
        chown_to_unprivileged(directory, path)
    return path


def start_patroni(journal: Journal, server: Host, synchronous: bool) -> None:
    python, python_environment = unprivileged_python(journal)
    config = patroni_config(journal, server, synchronous)
    library = postgres.bin_dir().parent / "lib"
    environment = {**os.environ, **python_environment}
    # The standby's walreceiver must load the wheel's libpq, not the system's older one.
    environment["LD_LIBRARY_PATH"] = ":".join(
        part for part in (str(library), python_environment.get("LD_LIBRARY_PATH")) if part
    )
    command = as_unprivileged([python, "-m", "patroni", str(config)])
    processes.start(journal, server, f"patroni-{server.name}", command, environment)


def patroni_role(server: Host) -> str | None:
    """ "primary", "replica" or None (not answering), from Patroni's REST API."""
    if http_ok(url(server, PATRONI_PORT, "/primary")):
        return "primary"
    if http_ok(url(server, PATRONI_PORT, "/replica")):
        return "replica"
    return None


def database_primary() -> Host | None:
    for server in postgres_hosts():
        if http_ok(url(server, PATRONI_PORT, "/primary")):
            return server
    return None


def connect_database(server: Host, dbname: str = DATABASE_NAME) -> psycopg.Connection:
    return psycopg.connect(
        host=server.address,
        port=POSTGRES_PORT,
        user=DATABASE_USER,
        password=DATABASE_PASSWORD,
        dbname=dbname,
        connect_timeout=3,
        autocommit=True,
    )


def create_app_database(server: Host) -> None:
    with connect_database(server, "postgres") as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))


def database_url() -> str:
    """libpq's multi-host form through SQLAlchemy: the client tries each host and keeps the one
    that accepts writes (what the app on main supports; DATABASE_HOST is the agreed list)."""
    hosts = "&".join(f"host={m.address}:{POSTGRES_PORT}" for m in postgres_hosts())
    return (
        f"postgresql+psycopg://{DATABASE_USER}:{DATABASE_PASSWORD}@/{DATABASE_NAME}"
        f"?{hosts}&target_session_attrs=read-write"
    )


# NATS, Valkey, Sentinel, Temporal --------------------------------------------------------


def nats_hosts() -> list[Host]:
    return hosts_with("nats")


def start_nats(journal: Journal, server: Host) -> None:
    config = replace(
        host_config(journal, server), ports={"nats": NATS_PORT, "nats_monitor": NATS_MONITOR_PORT}
    )
    routes = ",".join(f"nats://{m.address}:{NATS_ROUTE_PORT}" for m in nats_hosts() if m != server)
    # The cluster drops a cut-off or frozen client (an API replica's echo subscription in the
    # queue group) and member within seconds, as devstack's cluster does (docs/connections.md).
    conf = journal.directory / server.name / "nats.conf"
    nats_cluster.write_node_config(conf)
    command = [
        *nats.command(config),
        f"--http_port={NATS_MONITOR_PORT}",
        f"--name={server.name}",
        "--cluster_name=sbsr",
        f"--cluster=nats://{server.address}:{NATS_ROUTE_PORT}",
        f"--routes={routes}",
        f"--config={conf}",
    ]
    processes.start(journal, server, f"nats-{server.name}", command, dict(os.environ))


def nats_ready(server: Host) -> bool:
    return http_ok(url(server, NATS_MONITOR_PORT, "/healthz?js-enabled-only=true"))


def valkey_hosts() -> list[Host]:
    return hosts_with("vk")


def sentinel_hosts() -> list[Host]:
    return hosts_with("sen")


def start_valkey(journal: Journal, server: Host, master: Host | None) -> None:
    config = host_config(journal, server)
    command = [*redis.command(config), "--protected-mode", "no"]
    if master is not None:
        command += ["--replicaof", master.address, str(VALKEY_PORT)]
    processes.start(journal, server, f"valkey-{server.name}", command, dict(os.environ))


def start_sentinel(journal: Journal, server: Host, master: Host) -> None:
    directory = journal.directory / server.name
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "sentinel.conf"  # Sentinel rewrites it: its own file
    conf.write_text(
        "\n".join(
            [
                f"bind {server.address}",
                f"port {SENTINEL_PORT}",
                "protected-mode no",
                f"dir {directory}",
                f"sentinel monitor {SENTINEL_MASTER} {master.address} {VALKEY_PORT} 2",
                f"sentinel down-after-milliseconds {SENTINEL_MASTER} 2000",
                f"sentinel failover-timeout {SENTINEL_MASTER} 10000",
                f"sentinel parallel-syncs {SENTINEL_MASTER} 1",
                "",
            ]
        )
    )
    command = [redis.server_binary(), str(conf), "--sentinel"]
    processes.start(journal, server, f"sentinel-{server.name}", command, dict(os.environ))


def valkey_master() -> Host | None:
    """The master the Sentinels name (the first that answers), None while none does."""
    for sentinel in sentinel_hosts():
        client = redis_client.Redis(
            sentinel.address, SENTINEL_PORT, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        try:
            answer = client.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
        except redis_client.RedisError:
            continue
        finally:
            client.close()
        if isinstance(answer, tuple):
            address = answer[0].decode() if isinstance(answer[0], bytes) else answer[0]
            return next((m for m in valkey_hosts() if m.address == address), None)
    return None


def valkey_ready(server: Host) -> bool:
    return ping(server, VALKEY_PORT)


def sentinel_ready(server: Host) -> bool:
    return ping(server, SENTINEL_PORT)


def standby_ready(server: Host) -> bool:
    return patroni_role(server) == "replica"


def ping(server: Host, port: int) -> bool:
    try:
        with socket.create_connection((server.address, port), 2.0) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_temporal(journal: Journal, server: Host) -> None:
    # Inside a namespace the dev server must listen on every interface: with `--ip <address>`
    # its internal services still dial 127.0.0.1 and workflow starts fail.
    config = replace(host_config(journal, server), listen_host="0.0.0.0")  # noqa: S104
    processes.start(journal, server, "temporal", temporal.command(config), dict(os.environ))


def temporal_ready(server: Host) -> bool:
    health = ["operator", "cluster", "health", "--address", f"{server.address}:{TEMPORAL_PORT}"]
    try:
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


# The API, the workers, HAProxy, Prometheus -----------------------------------------------


def app_environment(server: Host) -> dict[str, str]:
    """What an API replica or a worker runs with: every dependency by the topology's addresses,
    the way production gives them (docs: the database's host list with read-write sessions,
    Valkey through Sentinel, the NATS cluster's servers)."""
    nats_urls = [f"nats://{m.address}:{NATS_PORT}" for m in nats_hosts()]
    return {
        **os.environ,
        **LOCAL_DEFAULTS,
        "DATABASE_URL": database_url(),
        "REDIS_SENTINELS": ",".join(f"{m.address}:{SENTINEL_PORT}" for m in sentinel_hosts()),
        "REDIS_SENTINEL_MASTER": SENTINEL_MASTER,
        "NATS_URL": ",".join(nats_urls),
        "TEMPORAL_HOST": host("temporal").address,
        "TEMPORAL_PORT": str(TEMPORAL_PORT),
        "API_HOST": server.address,
        "API_PORT": str(API_PORT),
        "WORKER_HOST": server.address,
        "WORKER_METRICS_PORT": str(WORKER_METRICS_PORT),
        "WORKER_HEALTH_PORT": str(WORKER_HEALTH_PORT),
        "SHUTDOWN_DRAIN_SECONDS": SHUTDOWN_DRAIN_SECONDS,
        "SBS_API_TOKEN": DEV_TOKEN,
        "PYTHONUNBUFFERED": "1",
    }


def start_api(journal: Journal, server: Host) -> None:
    config = host_config(journal, server)
    processes.start(
        journal, server, f"api-{server.name}", api.command(config), app_environment(server)
    )


def api_ready(server: Host) -> bool:
    return http_ok(url(server, API_PORT, "/health/ready"))


def balancer_routes_to(server: Host) -> bool:
    """HAProxy's own checks marked this API replica UP: it gets requests again. A rolling
    restart waits for this, not only for the replica's readiness, before it stops the next
    one (the checks need `rise` passes; both replicas out at once answer 503)."""
    metrics = url(host("lb"), HAPROXY_STATS_PORT, "/metrics")
    try:
        with httpx.Client(timeout=PROBE_TIMEOUT) as client:
            text = client.get(metrics).text
    except httpx.HTTPError:
        return False
    return f'haproxy_server_status{{proxy="api",server="{server.name}",state="UP"}} 1' in text


def balancer_ready(balancer: Host) -> bool:
    """HAProxy sends requests to a ready API replica (its checks marked the replicas up)."""
    return http_ok(url(balancer, API_PORT, "/health/ready"))


def start_worker(journal: Journal, server: Host) -> None:
    config = host_config(journal, server)
    environment = {**app_environment(server), "OTEL_SERVICE_NAME": "sbs-worker"}
    processes.start(journal, server, f"worker-{server.name}", worker.command(config), environment)


def worker_ready(server: Host) -> bool:
    return http_ok(url(server, WORKER_HEALTH_PORT, "/health/ready"))


def haproxy_config(journal: Journal, balancer: Host) -> Path:
    servers = "\n".join(
        f"    server {m.name} {m.address}:{API_PORT} check" for m in hosts_with("api")
    )
    text = f"""global
    maxconn 2000

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 10s
    retries 1
    option redispatch

frontend api
    bind {balancer.address}:{API_PORT}
    default_backend api

frontend stats
    bind {balancer.address}:{HAPROXY_STATS_PORT}
    http-request use-service prometheus-exporter if {{ path /metrics }}

backend api
    option httpchk GET /health/ready
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2
{servers}
"""
    path = journal.directory / balancer.name / "haproxy.cfg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def start_haproxy(journal: Journal, balancer: Host) -> None:
    binary = shutil.which("haproxy")
    if binary is None:
        raise StackError("haproxy is not installed: apt-get install haproxy")
    command = [binary, "-f", str(haproxy_config(journal, balancer)), "-db"]
    processes.start(journal, balancer, "haproxy", command, dict(os.environ))


def prometheus_config(journal: Journal, server: Host) -> Path:
    def job(name: str, targets: list[str], path: str = "/metrics") -> dict[str, object]:
        return {"job_name": name, "metrics_path": path, "static_configs": [{"targets": targets}]}

    document = {
        "global": {"scrape_interval": "5s", "scrape_timeout": "4s"},
        "scrape_configs": [
            job("sbs-api", [f"{m.address}:{API_PORT}" for m in hosts_with("api")]),
            job("sbs-worker", [f"{m.address}:{WORKER_METRICS_PORT}" for m in hosts_with("wrk")]),
            job("temporal", [f"{host('temporal').address}:{TEMPORAL_METRICS_PORT}"]),
            job("haproxy", [f"{host('lb').address}:{HAPROXY_STATS_PORT}"]),
            job("patroni", [f"{m.address}:{PATRONI_PORT}" for m in postgres_hosts()]),
            job("etcd", [f"{m.address}:{ETCD_CLIENT_PORT}" for m in etcd_hosts()]),
            job("prometheus", [f"{server.address}:{PROMETHEUS_PORT}"]),
        ],
    }
    path = journal.directory / server.name / "prometheus.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def start_prometheus(journal: Journal, server: Host) -> bool:
    """False when the Debian package is not installed (Prometheus is optional locally)."""
    if not PROMETHEUS.installed():
        return False
    command = [
        PROMETHEUS.binary(),
        f"--config.file={prometheus_config(journal, server)}",
        f"--storage.tsdb.path={journal.directory / server.name / 'data'}",
        f"--web.listen-address={server.address}:{PROMETHEUS_PORT}",
    ]
    processes.start(journal, server, "prometheus", command, dict(os.environ))
    return True
