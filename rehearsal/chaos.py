"""`chaos`: lay out the topology, run the load while the scheduled faults come and heal, let the
system settle, read back what was acknowledged, remove the topology, write the report."""

import asyncio
import os
import shutil
import time
from pathlib import Path
from typing import Any

from app.config import DEV_TOKEN
from rehearsal import checks, layout, network, processes, report, runs, servers, teardown
from rehearsal.faults import Injector, schedule
from rehearsal.history import History
from rehearsal.journal import Journal
from rehearsal.load import Load
from rehearsal.observe import observe
from rehearsal.topology import host

LOAD_RATE = 20.0  # requests per second through the load balancer
GAP_SECONDS = 10.0  # between one fault's heal and the next fault
SETTLE_SECONDS = 15.0  # load goes on this long after the last heal


def leftovers(recorded: list[dict[str, Any]]) -> list[str]:
    """What `down` left: namespaces and links of the prefix, processes the journal recorded."""
    left = [f"namespace {name}" for name in network.our_namespaces()]
    left += [f"link {name}" for name in network.our_links()]
    for entry in recorded:
        if entry["kind"] != "pid":
            continue
        if processes.is_recorded(entry["pid"], entry["started"]):
            left.append(f"process {entry['name']} (pid {entry['pid']})")
    return left


async def rehearse(journal: Journal, minutes: float, seed: int, synchronous: bool) -> History:
    began = time.monotonic()
    lb = host("lb")
    load = Load(f"http://{lb.address}:{servers.API_PORT}", DEV_TOKEN, LOAD_RATE, began)
    injector = Injector(journal, began, synchronous)
    stop = asyncio.Event()
    load_task = asyncio.create_task(load.run(stop))
    plan = schedule(seed, rounds=1)
    every_class_once = len(plan)
    deadline = began + minutes * 60
    index = 0
    await asyncio.sleep(GAP_SECONDS)
    # Every class once, then more rounds of the same seed until the time is up (the fault under
    # way then finishes; a round may be left part-way, so the run keeps to its minutes).
    while index < every_class_once or time.monotonic() < deadline:
        if index == len(plan):
            plan += schedule(seed + len(plan), rounds=1)
        await injector.inject(plan[index])
        index += 1
        await asyncio.sleep(GAP_SECONDS)
    await asyncio.sleep(SETTLE_SECONDS)
    stop.set()
    await load_task
    duration = time.monotonic() - began
    print(f"  load stopped after {duration:.0f}s: {len(load.requests)} requests", flush=True)
    observed = await observe(journal, load.requests)
    return History(load.requests, injector.faults, observed, duration)


def chaos(
    journal: Journal,
    minutes: float,
    seed: int,
    directory: Path,
    synchronous: bool,
    record: bool = False,
) -> bool:
    """The whole rehearsal; True when every check passed. The topology is removed in any case
    (unless it was there before: then nothing is made and nothing removed)."""
    layout.refuse_unless_clear(journal)
    began = time.monotonic()
    try:
        layout.up(journal, synchronous=synchronous)
        print(layout.describe(), flush=True)
        print(f"Load and faults (seed {seed}, at least {minutes} min):", flush=True)
        history = asyncio.run(rehearse(journal, minutes, seed, synchronous))
    finally:
        recorded = list(journal.entries())
        logs = journal.directory / "logs"
        if logs.exists():  # kept beside the report: down removes the state directory
            shutil.copytree(logs, directory / "logs", dirs_exist_ok=True)
        teardown.down(journal)
    history.observed.leaked = leftovers(recorded)
    summary = checks.summary(history)
    summary["seed"] = seed
    summary["replication"] = "synchronous" if synchronous else "asynchronous"
    summary["minutes"] = minutes
    summary["total_seconds"] = round(time.monotonic() - began, 1)  # up and down included
    summary["cores"] = os.cpu_count()
    report.write(history, summary, directory)
    if record:
        runs.record(summary)
        print(f"Recorded in {runs.RUNS_JSON} and {runs.RUNS_DOC}")
    for item in summary["checks"]:
        print(f"  {'ok ' if item['passed'] else 'FAILED'} {item['name']}: {item['figure']}")
    print(f"Report: {directory / 'report.md'}")
    return bool(summary["passed"])
