"""What is read after the faults healed and the system settled: the settings on the primary, the
standby's replay position, every workflow run by idempotency key, processes that died."""

import asyncio
import json

import psutil
from temporalio.client import Client

from devstack import waiting
from rehearsal import processes, servers
from rehearsal.history import Observed, Request
from rehearsal.journal import Journal
from rehearsal.topology import host

SETTLE_SECONDS = 90.0
IDEMPOTENT_ID_PREFIX = "test-workflow-key-"  # app/api/routes/workflows.py


def read_settings() -> dict[str, str]:
    primary = servers.database_primary()
    if primary is None:
        return {}
    with servers.connect_database(primary) as connection:
        rows = connection.execute(
            "SELECT key, value FROM system_settings WHERE key LIKE 'rehearsal.%'"
        ).fetchall()
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in rows}


def standby_caught_up() -> bool:
    """Every standby replayed what the primary had written (bounded wait)."""

    def caught_up() -> bool:
        primary = servers.database_primary()
        if primary is None:
            return False
        with servers.connect_database(primary, "postgres") as connection:
            row = connection.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        for standby in servers.postgres_hosts():
            if standby == primary:
                continue
            with servers.connect_database(standby, "postgres") as connection:
                replayed = connection.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0] if row else "0/0",)
                ).fetchone()
            if not replayed or not replayed[0]:
                return False
        return True

    def safely() -> bool:
        try:
            return caught_up()
        except Exception:
            return False

    return waiting.wait_until(safely, SETTLE_SECONDS, interval=1.0)


async def workflow_runs(requests: list[Request]) -> dict[str, list[str]]:
    """For each acknowledged idempotency key, the status of every run of its workflow id,
    once none is running any more (bounded)."""
    keys = sorted({r.idempotency_key for r in requests if r.idempotency_key and r.acknowledged})
    client = await Client.connect(f"{host('temporal').address}:{servers.TEMPORAL_PORT}")

    async def statuses() -> dict[str, list[str]]:
        """One listing of every run (the topology is new: every workflow on it is ours)."""
        found: dict[str, list[str]] = {key: [] for key in keys}
        async for execution in client.list_workflows():
            key = execution.id.removeprefix(IDEMPOTENT_ID_PREFIX)
            if key in found:
                found[key].append(execution.status.name if execution.status else "UNKNOWN")
        return found

    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    found = await statuses()
    while any("RUNNING" in runs for runs in found.values()) and loop.time() < deadline:
        await asyncio.sleep(1.0)
        found = await statuses()
    return found


def unexpected_exits(journal: Journal) -> list[str]:
    """Servers whose latest process is not alive: none was killed without being restarted
    (or stopped for good, as a fault's delay proxy at its heal)."""
    latest: dict[str, tuple[int, int]] = {}
    for entry in journal.entries():
        if entry["kind"] == "pid":
            latest[entry["name"]] = (entry["pid"], entry["started"])
        elif entry["kind"] == "stopped":
            latest.pop(entry["name"], None)
    dead = []
    for name, (pid, started) in sorted(latest.items()):
        try:
            alive = processes.is_recorded(pid, started)
            alive = alive and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            alive = False
        if not alive:
            dead.append(f"{name} (pid {pid})")
    return dead


async def observe(journal: Journal, requests: list[Request]) -> Observed:
    caught_up = await asyncio.to_thread(standby_caught_up)
    return Observed(
        settings=await asyncio.to_thread(read_settings),
        standby_caught_up=caught_up,
        workflow_runs=await workflow_runs(requests),
        unexpected_exits=await asyncio.to_thread(unexpected_exits, journal),
    )
