"""`python -m devstack` as `make up/status/down` run it: a stack of its own, started, restarted
without duplicates, stopped with nothing left listening, and its data kept across down/up."""

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from devstack import process
from devstack.config import HOST, PROJECT_ROOT, StackConfig
from tests.integration.helpers import stack_variables


def run_cli(config: StackConfig, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args],
        cwd=PROJECT_ROOT,
        env=stack_variables(config),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_stack() -> Iterator[StackConfig]:
    config = StackConfig.ephemeral(api_token="cli-token")
    try:
        yield config
    finally:
        run_cli(config, "down")
        shutil.rmtree(config.state_dir, ignore_errors=True)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((HOST, port)) == 0


def test_up_status_down_up_keeps_data(cli_stack: StackConfig) -> None:
    started = run_cli(cli_stack, "up")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "All services ready" in started.stdout
    assert cli_stack.url("api") in started.stdout
    assert "cli-token" in started.stdout

    status = run_cli(cli_stack, "status")
    assert status.returncode == 0
    for name in ("postgresql", "redis", "nats", "temporal", "api", "worker"):
        line = next(row for row in status.stdout.splitlines() if row.startswith(name))
        assert " ready " in f"{line} ", line

    api_pid = process.running_pid(cli_stack.state_dir, "api")
    again = run_cli(cli_stack, "up")
    assert again.returncode == 0
    assert again.stdout.count("already running") >= 6
    assert process.running_pid(cli_stack.state_dir, "api") == api_pid

    with httpx.Client(base_url=cli_stack.api_url, timeout=30) as api:
        written = api.put(
            "/settings/tests.survives_restart",
            json={"value": "kept"},
            headers={"Authorization": "Bearer cli-token"},
        )
        assert written.status_code == 201

    stopped = run_cli(cli_stack, "down")
    assert stopped.returncode == 0
    # SIGTERM is a graceful stop: the worker and the API finish and say so.
    assert "worker stopped" in process.log_file(cli_stack.state_dir, "worker").read_text()
    assert "api stopped" in process.log_file(cli_stack.state_dir, "api").read_text()
    still_listening = [port for port in cli_stack.ports.values() if listening(port)]
    assert still_listening == []
    assert all(
        process.running_pid(cli_stack.state_dir, name) is None
        for name in ("postgresql", "redis", "nats", "temporal", "api", "worker")
    )

    restarted = run_cli(cli_stack, "up")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    with httpx.Client(base_url=cli_stack.api_url, timeout=30) as api:
        assert api.get("/settings/tests.survives_restart").json()["value"] == "kept"


def test_clients_reach_the_stack_and_reset_wipes_only_a_stopped_one(
    cli_stack: StackConfig,
) -> None:
    """`make psql`, `make redis-cli`, `make temporal` and `make reset` (after the test above)."""
    assert run_cli(cli_stack, "status").stdout.count(" ready ") >= 6
    query = run_cli(cli_stack, "psql", "-tAc", "select 40 + 2")
    assert query.returncode == 0, query.stderr
    assert query.stdout.strip() == "42"
    ping = run_cli(cli_stack, "redis-cli", "ping")
    assert ping.returncode == 0, ping.stderr
    assert ping.stdout.strip() in ("PONG", "True")
    health = run_cli(cli_stack, "temporal", "operator", "cluster", "health")
    assert "SERVING" in health.stdout, health.stdout + health.stderr

    refused = run_cli(cli_stack, "reset")
    assert refused.returncode == 1
    assert "make down" in refused.stderr
    assert cli_stack.state_dir.exists()
    assert run_cli(cli_stack, "down").returncode == 0
    wiped = run_cli(cli_stack, "reset")
    assert wiped.returncode == 0, wiped.stderr
    assert not cli_stack.state_dir.exists()


def test_taken_port_names_the_port_and_its_variable() -> None:
    config = StackConfig.ephemeral()
    with socket.socket() as holder:
        holder.bind((HOST, config.ports["redis"]))
        holder.listen()
        try:
            result = run_cli(config, "up")
        finally:
            run_cli(config, "down")
            shutil.rmtree(config.state_dir, ignore_errors=True)
    assert result.returncode == 1
    assert f"port {config.ports['redis']}" in result.stderr
    assert "REDIS_PORT" in result.stderr
