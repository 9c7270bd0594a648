"""Section 4: TestWorkflow through `POST /test-workflow?wait=true`, and straight through temporalio.

The platform figures go through the API (what a user calls). The baseline starts the same
workflow with the temporalio client from this process and awaits its result, so the
difference is the API's share (HTTP, FastAPI, one more client hop).
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import tenacity
from temporalio.client import Client

from app.workflows.test_workflow import WORKFLOW_NAME, TestWorkflowInput
from bench.report import Result
from bench.stats import milliseconds, percentile
from devstack.config import HOST, StackConfig

SEQUENTIAL_RUNS = 100
BATCH_RUNS = 500
BATCH_CONCURRENCY = 64
# Bounds that keep the suite short even when workflows are slow: no new run starts after these.
SEQUENTIAL_SECONDS = 15.0
BATCH_SECONDS = 20.0
TASK_QUEUE = "test-task-queue"  # the worker's default queue (TEMPORAL_TASK_QUEUE)
POLL_SECONDS = 0.25
FINISH_SECONDS = 60.0
GOAL_P50_MS = 50.0
GOAL_PER_SECOND = 50.0


def last_state(retry_state: tenacity.RetryCallState) -> Any:
    """Out of time: the last state read (still RUNNING), for the caller's error."""
    assert retry_state.outcome is not None
    return retry_state.outcome.result()


async def poll_until_finished(api: httpx.AsyncClient, workflow_id: str) -> dict[str, Any]:
    """The workflow's state once it is no longer RUNNING (at most FINISH_SECONDS of polling)."""

    async def state() -> dict[str, Any]:
        polled = await api.get(f"/test-workflow/{workflow_id}")
        polled.raise_for_status()
        body: dict[str, Any] = polled.json()
        return body

    retrying = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_delay(FINISH_SECONDS),
        wait=tenacity.wait_fixed(POLL_SECONDS),
        retry=tenacity.retry_if_result(lambda body: body["status"] == "RUNNING"),
        retry_error_callback=last_state,
    )
    body: dict[str, Any] = await retrying(state)
    return body


async def run_through_api(api: httpx.AsyncClient) -> None:
    """One workflow to completion; polls when the API's own wait (REQUEST_TIMEOUT) ran out."""
    response = await api.post("/test-workflow", params={"wait": "true"}, json={"name": "bench"})
    response.raise_for_status()
    body = response.json()
    if body["status"] == "RUNNING":
        body = await poll_until_finished(api, body["workflow_id"])
    if body["status"] != "COMPLETED" or body["result"] != "Hello, bench!":
        raise RuntimeError(f"workflow did not complete as expected: {body}")


async def run_direct(temporal: Client) -> None:
    result = await temporal.execute_workflow(
        WORKFLOW_NAME,
        TestWorkflowInput(name="bench"),
        id=f"bench-{uuid.uuid4()}",
        task_queue=TASK_QUEUE,
        execution_timeout=timedelta(minutes=1),
    )
    if result != "Hello, bench!":
        raise RuntimeError(f"unexpected workflow result {result!r}")


async def sequential(run_one: Callable[[], Awaitable[None]]) -> list[float]:
    """Durations (s) of up to SEQUENTIAL_RUNS runs one after another, after 5 warm-up runs."""
    for _ in range(5):
        await run_one()
    durations: list[float] = []
    deadline = time.perf_counter() + SEQUENTIAL_SECONDS
    while len(durations) < SEQUENTIAL_RUNS and time.perf_counter() < deadline:
        started = time.perf_counter()
        await run_one()
        durations.append(time.perf_counter() - started)
    return durations


async def batch(run_one: Callable[[], Awaitable[None]]) -> tuple[int, float]:
    """(completed, seconds) for up to BATCH_RUNS runs with BATCH_CONCURRENCY in flight."""
    gate = asyncio.Semaphore(BATCH_CONCURRENCY)
    started = time.perf_counter()
    deadline = started + BATCH_SECONDS
    completed = 0

    async def gated() -> None:
        nonlocal completed
        async with gate:
            if time.perf_counter() < deadline:
                await run_one()
                completed += 1

    await asyncio.gather(*(gated() for _ in range(BATCH_RUNS)))
    return completed, time.perf_counter() - started


async def measure(config: StackConfig, details: dict[str, Any]) -> list[Result]:
    temporal = await Client.connect(f"{HOST}:{config.ports['temporal']}")
    limits = httpx.Limits(max_connections=BATCH_CONCURRENCY)
    async with httpx.AsyncClient(base_url=config.api_url, timeout=30, limits=limits) as api:
        figures: dict[str, dict[str, float]] = {}
        for name, run_one in (
            ("api", lambda: run_through_api(api)),
            ("direct", lambda: run_direct(temporal)),
        ):
            durations = await sequential(run_one)
            completed, seconds = await batch(run_one)
            figures[name] = {
                "sequential_runs": len(durations),
                "p50_ms": milliseconds(percentile(durations, 0.5)),
                "p99_ms": milliseconds(percentile(durations, 0.99)),
                "batch_completed": completed,
                "batch_seconds": round(seconds, 2),
                "per_second": round(completed / seconds, 1),
            }
            print(f"  workflows {name:<7} {figures[name]}", flush=True)
    details["workflows"] = {
        "sequential": f"up to {SEQUENTIAL_RUNS} runs or {SEQUENTIAL_SECONDS:g} s",
        "batch": (
            f"up to {BATCH_RUNS} workflows or {BATCH_SECONDS:g} s, {BATCH_CONCURRENCY} in flight, "
            "one worker process"
        ),
        "api_method": "httpx.AsyncClient, POST /test-workflow?wait=true, COMPLETED checked",
        "direct_method": "temporalio Client.execute_workflow from the benchmark process",
        **figures,
    }
    through_api, direct = figures["api"], figures["direct"]
    return [
        Result(
            section="4",
            metric="POST /test-workflow?wait=true p50, sequential",
            unit="ms",
            platform=through_api["p50_ms"],
            baseline=direct["p50_ms"],
            baseline_name="temporalio client direct",
            goal_kind="value<=",
            goal_value=GOAL_P50_MS,
            note=f"p99 {through_api['p99_ms']:.1f} ms (direct {direct['p99_ms']:.1f} ms)",
        ),
        Result(
            section="4",
            metric=f"workflows/s, {BATCH_CONCURRENCY} in flight, 1 worker",
            unit="wf/s",
            platform=through_api["per_second"],
            baseline=direct["per_second"],
            baseline_name="temporalio client direct",
            goal_kind="value>=",
            goal_value=GOAL_PER_SECOND,
        ),
    ]
