"""The worker's start-up wait for Temporal (tenacity, bounded by TEMPORAL_WAIT_TIMEOUT): it logs
each failed attempt, connects once the server appears, and gives up with exit code 1 when it
never does."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack.config import HOST, PROJECT_ROOT, StackConfig, free_ports
from tests.waiting import wait_for


def start_worker(temporal_port: int, log: Path, **extra_env: str) -> subprocess.Popen[bytes]:
    health_port, metrics_port = free_ports(2)
    env = {
        **os.environ,
        "TEMPORAL_HOST": HOST,
        "TEMPORAL_PORT": str(temporal_port),
        "TEMPORAL_TASK_QUEUE": f"start-test-{temporal_port}",
        "WORKER_HOST": HOST,
        "WORKER_HEALTH_PORT": str(health_port),
        "WORKER_METRICS_PORT": str(metrics_port),
        "DEPENDENCY_CONNECT_TIMEOUT": "1",
        "LOG_FORMAT": "json",
        **extra_env,
    }
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "run_worker.py")],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def records(log: Path) -> list[dict[str, Any]]:
    lines = log.read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def messages(log: Path, text: str) -> list[dict[str, Any]]:
    return [record for record in records(log) if record.get("message") == text]


@contextmanager
def forwarding(listen_port: int, target_port: int) -> Iterator[None]:
    """A TCP proxy from `listen_port` to `target_port` on the loopback, while the block runs."""
    loop = asyncio.new_event_loop()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def forward(client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        server_reader, server = await asyncio.open_connection(HOST, target_port)
        await asyncio.gather(pipe(client_reader, server), pipe(server_reader, client))

    server = loop.run_until_complete(asyncio.start_server(forward, HOST, listen_port))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_the_worker_gives_up_after_the_wait(tmp_path: Path) -> None:
    (closed_port,) = free_ports(1)
    log = tmp_path / "worker.log"
    started = time.monotonic()
    worker = start_worker(closed_port, log, TEMPORAL_WAIT_TIMEOUT="2")
    assert worker.wait(timeout=60) == 1, log.read_text()
    elapsed = time.monotonic() - started
    waits = messages(log, "waiting for temporal")
    assert len(waits) >= 2, log.read_text()
    assert [record["attempt"] for record in waits] == list(range(1, len(waits) + 1))
    assert all("Failed client connect" in record["error"] for record in waits), waits
    assert any("not reachable after 2s" in record["message"] for record in records(log))
    assert elapsed < 15, f"gave up after {elapsed:.1f}s, not about TEMPORAL_WAIT_TIMEOUT=2"


def test_the_worker_connects_once_temporal_appears(stack: StackConfig, tmp_path: Path) -> None:
    (late_port,) = free_ports(1)
    log = tmp_path / "worker.log"
    worker = start_worker(late_port, log, TEMPORAL_WAIT_TIMEOUT="60")
    try:
        wait_for(lambda: len(messages(log, "waiting for temporal")) >= 2, 30)
        with forwarding(late_port, stack.ports["temporal"]):
            wait_for(lambda: bool(messages(log, "worker started")), 30)
            (connected,) = messages(log, "connected to temporal")
            assert connected["attempt"] >= 3, connected
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
