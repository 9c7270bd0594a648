"""Bring the whole local stack up, down, and report on it."""

import os
import time
from pathlib import Path

from devstack import process
from devstack.config import HOST, PORT_VARIABLES, PROJECT_ROOT, StackConfig
from devstack.servers.base import Service, StackError
from devstack.services import SERVICES, service
from devstack.waiting import wait_until

POLL_SECONDS = 0.1


def say(message: str) -> None:
    print(message, flush=True)


def enabled_services() -> list[Service]:
    return [candidate for candidate in SERVICES if candidate.installed()]


def prepare_state_dir(config: StackConfig) -> None:
    config.state_dir.mkdir(parents=True, exist_ok=True)
    # PostgreSQL runs unprivileged when root starts it: it must be able to enter the state dir.
    config.state_dir.chmod(0o755)


def check_ports_free(config: StackConfig, candidate: Service) -> None:
    for port_name in candidate.ports:
        port = config.ports[port_name]
        if not process.port_is_free(HOST, port):
            # A server group's ports (devstack/servers/group.py) have no variable: free ports.
            moved_by = PORT_VARIABLES[port_name][0] if port_name in PORT_VARIABLES else None
            variable = moved_by or "its port variable"
            raise StackError(
                f"port {port} ({candidate.name}) is already in use on {HOST}: "
                f"stop what holds it, or set {variable} to another port"
            )


def wait_until_ready(config: StackConfig, candidate: Service, pid: int) -> None:
    log = process.log_file(config.state_dir, candidate.name)

    def ready() -> bool:
        if candidate.probe(config):
            return True
        if not process.is_alive(pid):
            raise StackError(
                f"{candidate.name} exited during start-up; last lines of {log}:\n"
                + process.tail(log)
            )
        return False

    if not wait_until(
        ready,
        candidate.ready_timeout,
        POLL_SECONDS,
        progress=lambda: say(f"      ... still waiting for {candidate.name}"),
    ):
        seconds = candidate.ready_timeout
        raise StackError(f"{candidate.name} not ready after {seconds:.0f}s; see {log}")


def start(config: StackConfig, candidate: Service) -> str:
    """Start one service unless it runs already; returns what happened."""
    pid = process.running_pid(config.state_dir, candidate.name)
    if pid is not None:
        return f"already running (pid {pid})"
    check_ports_free(config, candidate)
    started = time.monotonic()
    if candidate.prepare is not None:
        candidate.prepare(config)
    child = process.spawn(
        config.state_dir,
        candidate.name,
        candidate.command(config),
        env={**os.environ, **candidate.environment(config)},
        cwd=PROJECT_ROOT,
    )
    wait_until_ready(config, candidate, child.pid)
    if candidate.after_start is not None:
        candidate.after_start(config)
    return f"ready in {time.monotonic() - started:.1f}s (pid {child.pid})"


def up(config: StackConfig) -> None:
    prepare_state_dir(config)
    services = enabled_services()
    say(f"Starting the SBS stack in {config.state_dir}")
    for missing in SERVICES:
        if not missing.installed():
            say(f"  ({missing.name} not installed: skipped; '{missing.install_hint}' adds it)")
    begun = time.monotonic()
    for index, candidate in enumerate(services, start=1):
        ports = ", ".join(str(config.ports[name]) for name in candidate.ports)
        say(f"[{index}/{len(services)}] {candidate.name:<10} port {ports}: starting")
        outcome = start(config, candidate)
        say(f"      {candidate.name} {outcome}")
    say(f"All services ready in {time.monotonic() - begun:.1f}s.")
    say(summary(config))


def summary(config: StackConfig) -> str:
    lines = [
        f"  API            {config.url('api')}  (docs: {config.url('api', '/docs')})",
        f"  health         {config.url('api', '/health')}",
        f"  metrics        {config.url('api', '/metrics')}",
        f"  Temporal UI    {config.url('temporal_ui')}",
        f"  Temporal gRPC  {HOST}:{config.ports['temporal']}",
        f"  PostgreSQL     {config.database_url}",
        f"  Redis          {config.redis_url}",
        f"  NATS           {config.nats_url}",
    ]
    if service("prometheus").installed():
        lines.append(f"  Prometheus     {config.url('prometheus')}")
    if service("alertmanager").installed():
        lines.append(f"  Alertmanager   {config.url('alertmanager')}  (alerts: /api/v2/alerts)")
    lines += [
        f"  API token      {config.api_token}  (Authorization: Bearer <token> for writes)",
        f"  logs           {config.state_dir / 'logs'}  (make logs)",
    ]
    return "\n".join(lines)


def stop_one(config: StackConfig, name: str) -> bool:
    return process.stop(config.state_dir, name, service(name).stop_signal)


def down(config: StackConfig) -> None:
    say(f"Stopping the SBS stack in {config.state_dir}")
    for candidate in reversed(SERVICES):
        if stop_one(config, candidate.name):
            say(f"  {candidate.name:<10} stopped")
    say("Stopped; data kept in the state directory.")


def status(config: StackConfig) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for candidate in SERVICES:
        pid = process.running_pid(config.state_dir, candidate.name)
        if not candidate.installed():
            state = "not installed"
        elif pid is None:
            state = "stopped"
        else:
            state = "ready" if candidate.probe(config) else "running, not ready"
        rows.append(
            {
                "service": candidate.name,
                "state": state,
                "pid": pid,
                "ports": [config.ports[name] for name in candidate.ports],
            }
        )
    return rows


def log_files(config: StackConfig) -> list[Path]:
    return sorted((config.state_dir / "logs").glob("*.log"))
