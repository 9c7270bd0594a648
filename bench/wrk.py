"""Run the native load generator wrk and read its summary (through wrk_report.lua)."""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("wrk_report.lua")
MARKER = "BENCH_JSON "


class WrkMissingError(RuntimeError):
    pass


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissingError(
            "wrk (the HTTP load generator) is not installed: "
            "run 'sudo apt-get install -y wrk' (Debian/Ubuntu) or 'brew install wrk' (macOS)"
        )
    return found


def wrk_version() -> str:
    result = subprocess.run(
        [wrk_binary(), "--version"], capture_output=True, text=True, check=False
    )
    return (result.stdout or result.stderr).split(" Copyright")[0].strip()


@dataclass(frozen=True)
class WrkRun:
    url: str
    connections: int
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds


def run_wrk(
    url: str,
    *,
    threads: int = 2,
    connections: int = 32,
    seconds: float = 5.0,
    method: str = "GET",
    body: str = "",
) -> WrkRun:
    """One wrk run; fails when a request errored (non-2xx/3xx, socket error or timeout)."""
    threads = min(threads, connections)
    command = [
        wrk_binary(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={seconds:g}s",
        "--timeout=10s",
        f"--script={SCRIPT}",
        url,
    ]
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body}
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=seconds + 30, check=False
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith(MARKER)]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed on {url}:\n{result.stdout}\n{result.stderr}")
    summary = json.loads(lines[-1].removeprefix(MARKER))
    errors = sum(summary["errors"].values())
    if errors:
        raise RuntimeError(f"wrk on {url}: {errors} failed requests: {summary['errors']}")
    latency = summary["latency_us"]
    return WrkRun(
        url=url,
        connections=connections,
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        errors=errors,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
    )
