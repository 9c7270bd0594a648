"""The rehearsal on the real topology (root, Linux; never skipped under CI): `down` after a
SIGKILLed `up` leaves nothing, and a short chaos run (every fault class once) passes its checks
and leaves no namespace, link, process or file behind."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rehearsal import network
from rehearsal.journal import STATE_DIR_VARIABLE, Journal
from rehearsal.topology import BRIDGE, HOSTS, PREFIX, SUBNET
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """Under a world-traversable parent: Patroni and PostgreSQL run as `nobody` (pytest's own
    temporary directories are private to root). `down` runs after each test, so a failed one
    does not leave its topology in the next one's way."""
    parent = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-test-"))
    parent.chmod(0o755)
    yield parent / "state"
    rehearsal(parent / "state", "down", timeout=180)
    shutil.rmtree(parent, ignore_errors=True)


def rehearsal(state_dir: Path, *arguments: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rehearsal", *arguments],
        cwd=ROOT,
        env={**os.environ, STATE_DIR_VARIABLE: str(state_dir)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def leftovers(state_dir: Path) -> list[str]:
    """What `ip netns list`, `ip link` and `ps` show of the tool."""
    namespaces = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    links = subprocess.run(
        ["ip", "-o", "link"], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    processes = subprocess.run(
        ["ps", "-eo", "pid,args"], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    found = [f"namespace {line}" for line in namespaces.splitlines() if line.startswith(PREFIX)]
    found += [f"link {line[:60]}" for line in links.splitlines() if f" {PREFIX}" in line]
    found += [
        f"process {line.strip()[:120]}"
        for line in processes.splitlines()
        if (str(state_dir) in line or f"{SUBNET}." in line) and "ps -eo" not in line
    ]
    if state_dir.exists():
        found.append(f"directory {state_dir}")
    return found


def test_down_after_a_killed_up_removes_everything(state_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "up.log"
    with output.open("w") as stream:
        tool = subprocess.Popen(
            [sys.executable, "-m", "rehearsal", "up"],
            cwd=ROOT,
            env={**os.environ, STATE_DIR_VARIABLE: str(state_dir)},
            stdout=stream,
            stderr=subprocess.STDOUT,
        )
    journal = Journal(state_dir)

    def servers_started() -> bool:
        return sum(1 for e in journal.entries() if e["kind"] == "pid") >= 3

    try:
        wait_for(servers_started, 120, "up starting its first servers")
    except AssertionError as error:
        raise AssertionError(f"{error}; up printed:\n{output.read_text()[-3000:]}") from None
    finally:
        tool.send_signal(signal.SIGKILL)  # a crash of the tool itself, mid-way
        tool.wait(timeout=10)
    assert leftovers(state_dir), "the killed up left nothing to clean: the test proves nothing"

    first = rehearsal(state_dir, "down", timeout=120)
    assert first.returncode == 0, first.stderr
    assert leftovers(state_dir) == []
    second = rehearsal(state_dir, "down", timeout=60)
    assert second.returncode == 0, second.stderr
    assert "nothing to remove" in second.stdout


def test_up_and_chaos_refuse_a_bridge_they_did_not_make(state_dir: Path) -> None:
    """What another (or a crashed) rehearsal left is neither built upon nor swept by a run that
    did not make it: both commands stop before making anything and name the way out."""
    network.run("ip", "link", "add", BRIDGE, "type", "bridge")
    for command in (["up"], ["chaos", "--minutes", "0"]):
        run = rehearsal(state_dir, *command, timeout=60)
        assert run.returncode == 1, run.stdout + run.stderr
        assert BRIDGE in run.stderr
        assert "make rehearsal-down" in run.stderr
        assert "Traceback" not in run.stderr
        assert BRIDGE in network.our_links(), f"{command[0]} removed a bridge it did not make"
        assert not state_dir.exists()


def test_a_short_chaos_run_passes_and_leaves_nothing(state_dir: Path, tmp_path: Path) -> None:
    report_dir = tmp_path / "report"
    run = rehearsal(
        state_dir,
        "chaos",
        "--minutes",
        "0",
        "--seed",
        "1",
        "--report",
        str(report_dir),
        timeout=1200,
    )
    assert leftovers(state_dir) == []
    for server in HOSTS:
        assert server.address in run.stdout, f"up did not print {server.name}"
    summary = json.loads((report_dir / "report.json").read_text())
    kinds = {fault["kind"] for fault in summary["faults"]}
    assert kinds >= {
        "host-kill",
        "freeze",
        "partition",
        "split",
        "slow-link",
        "latency",
        "postgres-failover",
        "nats-node-loss",
        "valkey-master-loss",
        "rolling-restart",
    }
    assert (report_dir / "timeline.png").stat().st_size > 10_000
    failed = [c for c in summary["checks"] if not c["passed"]]
    assert failed == [], f"{failed}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
