"""A rolling release under load: two API replicas and two workers of the previous release
(its recorded commit, checked out) behind HAProxy on loopback, writes and workflow starts
running; this release's migration applies, then the replicas and the workers are replaced one
at a time (SIGTERM: the API drains while HAProxy's health check takes it out). Result: no failed
request, every acknowledged write stored, every acknowledged workflow start completed."""

import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from devstack.config import HOST, PROJECT_ROOT, StackConfig, free_ports
from devstack.servers.postgres import connect as postgres_connect
from tests.integration.helpers import ApiProcess, start_api_in
from tests.releases import checked_out, releases
from tests.waiting import answers_ok, poll, wait_for

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
DRAIN_SECONDS = "2"
# Bounded load: it stops by itself after this many iterations at the latest.
MAX_ITERATIONS = 5000
WORKFLOW_EVERY = 10

pytestmark = pytest.mark.skipif(
    not os.path.exists(HAPROXY) and not os.environ.get("CI"),
    reason="haproxy is not installed (apt-get install haproxy; CI installs it)",
)


@dataclass
class Replica:
    root: Path
    port: int
    api: ApiProcess | None = None


@dataclass
class Load:
    failures: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def haproxy_config(port: int, stats_port: int, replicas: list[Replica]) -> str:
    servers = "\n".join(
        f"  server r{index} {HOST}:{replica.port} check" for index, replica in enumerate(replicas)
    )
    return f"""global
  maxconn 1000
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch
listen api
  bind {HOST}:{port}
  option httpchk GET /health/ready
  http-check expect status 200
  default-server inter 200ms fall 1 rise 2
{servers}
listen stats
  bind {HOST}:{stats_port}
  stats enable
  stats uri /stats
"""


def server_states(stats_port: int) -> dict[str, str]:
    try:
        text = httpx.get(f"http://{HOST}:{stats_port}/stats;csv", timeout=2).text
    except httpx.HTTPError:
        return {}
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return {
        row["svname"]: row["status"]
        for row in rows
        if row["pxname"] == "api" and row["svname"] not in ("FRONTEND", "BACKEND")
    }


def server_is_up(stats_port: int, server: str) -> Callable[[], bool]:
    return lambda: server_states(stats_port).get(server) == "UP"


@contextmanager
def haproxy(replicas: list[Replica]) -> Iterator[tuple[str, int]]:
    port, stats_port = free_ports(2)
    config = Path(tempfile.mkstemp(prefix="sbs-haproxy-", suffix=".cfg")[1])
    config.write_text(haproxy_config(port, stats_port, replicas))
    proxy = subprocess.Popen(
        [HAPROXY, "-db", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://{HOST}:{port}", stats_port
    finally:
        proxy.terminate()
        proxy.wait(10)
        config.unlink(missing_ok=True)


def start_replica(stack: StackConfig, replica: Replica, database_url: str, queue: str) -> None:
    replica.api = start_api_in(
        replica.root,
        stack,
        "run_api.py",
        {
            "DATABASE_URL": database_url,
            "API_PORT": str(replica.port),
            "TEMPORAL_TASK_QUEUE": queue,
            "SHUTDOWN_DRAIN_SECONDS": DRAIN_SECONDS,
        },
    )
    try:
        replica.api.wait_ready()
    except AssertionError as error:
        raise AssertionError(f"{error}; its log:\n{replica.api.output()[-3000:]}") from None


def start_worker(
    stack: StackConfig, root: Path, database_url: str, queue: str, log: Path
) -> subprocess.Popen[bytes]:
    health_port, metrics_port = free_ports(2)
    env = {
        **os.environ,
        **stack.app_environment(),
        "DATABASE_URL": database_url,
        "TEMPORAL_TASK_QUEUE": queue,
        "WORKER_HEALTH_PORT": str(health_port),
        "WORKER_METRICS_PORT": str(metrics_port),
        "LOG_FORMAT": "json",
    }
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [sys.executable, str(root / "run_worker.py")],
            env=env,
            cwd=root,
            stdout=output,
            stderr=subprocess.STDOUT,
        )

    def ready() -> bool:
        assert worker.poll() is None, f"worker exited:\n{log.read_text(errors='replace')[-3000:]}"
        return answers_ok(f"http://{HOST}:{health_port}/health/ready", timeout=2)

    wait_for(ready, 60, f"worker from {root.name} ready")
    return worker


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(60)


def run_load(url: str, token: str, load: Load) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=15) as client:
        for number in range(MAX_ITERATIONS):
            if load.stop.is_set():
                return
            key = f"rolling.{number}"
            try:
                put = client.put(f"/settings/{key}", json={"value": number}, headers=headers)
                if put.status_code == 201:
                    load.writes.append(key)
                else:
                    load.failures.append(f"PUT {key}: {put.status_code} {put.text[:200]}")
                if number % WORKFLOW_EVERY == 0:
                    started = client.post(
                        "/test-workflow",
                        json={"name": f"R{number}"},
                        headers={"Idempotency-Key": f"rolling-{uuid.uuid4().hex}"},
                    )
                    if started.status_code in (200, 201, 202):
                        load.workflows.append(started.json()["workflow_id"])
                    else:
                        load.failures.append(f"POST workflow: {started.status_code}")
            except httpx.HTTPError as error:
                load.failures.append(f"{key}: {error!r}")


def test_a_rolling_release_under_load_loses_nothing(
    stack: StackConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = releases()[-2]
    name = f"rolling_{uuid.uuid4().hex[:10]}"
    with postgres_connect(stack, "postgres") as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    database_url = stack.database_url.rsplit("/", 1)[0] + f"/{name}"
    queue = f"rolling-{uuid.uuid4().hex[:8]}"
    workers: list[subprocess.Popen[bytes]] = []
    replicas: list[Replica] = []
    load = Load()
    try:
        with checked_out(previous, tmp_path) as old_root:
            old = subprocess.run(
                [sys.executable, str(old_root / "entrypoint.py"), "--migrate-only"],
                env={**os.environ, "DATABASE_URL": database_url, "LOG_FORMAT": "json"},
                cwd=old_root,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert old.returncode == 0, old.stdout + old.stderr
            workers = [
                start_worker(stack, old_root, database_url, queue, tmp_path / f"old-w{i}.log")
                for i in range(2)
            ]
            replicas = [Replica(old_root, port) for port in free_ports(2)]
            for replica in replicas:
                start_replica(stack, replica, database_url, queue)
            with haproxy(replicas) as (url, stats_port):
                wait_for(
                    lambda: (
                        set(server_states(stats_port).values()) == {"UP"}
                        and len(server_states(stats_port)) == 2
                    ),
                    30,
                    "both old replicas up in HAProxy",
                )
                loader = threading.Thread(target=run_load, args=(url, stack.api_token, load))
                loader.start()
                wait_for(lambda: len(load.writes) >= 20, 60, "load through HAProxy")

                migration = subprocess.run(
                    [sys.executable, str(PROJECT_ROOT / "entrypoint.py"), "--migrate-only"],
                    env={**os.environ, "DATABASE_URL": database_url, "LOG_FORMAT": "json"},
                    cwd=PROJECT_ROOT,
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                assert migration.returncode == 0, migration.stdout + migration.stderr

                for index, replica in enumerate(replicas):
                    assert replica.api is not None
                    replica.api.stop()  # SIGTERM: not ready, serves DRAIN_SECONDS, exits
                    replica.root = PROJECT_ROOT
                    start_replica(stack, replica, database_url, queue)
                    wait_for(
                        server_is_up(stats_port, f"r{index}"),
                        30,
                        f"new replica r{index} up in HAProxy",
                    )
                for index in range(2):
                    assert stop(workers[index]) == 0
                    workers[index] = start_worker(
                        stack, PROJECT_ROOT, database_url, queue, tmp_path / f"new-w{index}.log"
                    )
                written_before = len(load.writes)
                wait_for(lambda: len(load.writes) >= written_before + 20, 60, "load on 1.1.0")
                load.stop.set()
                loader.join(60)
                assert not loader.is_alive()

                with httpx.Client(base_url=url, timeout=15) as client:
                    version = client.get("/version").json()["version"]

                    def completed(workflow_id: str) -> bool:
                        got = client.get(f"/test-workflow/{workflow_id}")
                        return got.status_code == 200 and got.json()["status"] == "COMPLETED"

                    unfinished = poll(
                        lambda: [w for w in load.workflows if not completed(w)],
                        lambda left: not left,
                        90,
                        interval=1.0,
                    )
    finally:
        load.stop.set()
        for worker in workers:
            if worker.poll() is None:
                stop(worker)
        for replica in replicas:
            if replica.api is not None:
                replica.api.stop()
                replica.api.log.unlink(missing_ok=True)

    plain = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, connect_timeout=5) as connection:
        stored = {
            row[0]
            for row in connection.execute(
                "SELECT key FROM system_settings WHERE key LIKE 'rolling.%'"
            )
        }
    with postgres_connect(stack, "postgres") as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    assert version != previous.version
    assert load.failures == []
    assert set(load.writes) <= stored
    assert unfinished == []
    with capsys.disabled():
        print(
            f"\nrolling release {previous.version} -> {version}: {len(load.writes)} writes and "
            f"{len(load.workflows)} workflow starts acknowledged, 0 failed, 0 lost"
        )
