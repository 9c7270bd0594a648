"""Per-request cost of the telemetry middleware, measured in process (no network, no server).

The same tiny FastAPI app is built twice, bare and with `configure_telemetry`, and driven by
direct ASGI calls. Rounds alternate between the two (and swap which goes first) so machine
drift hits both alike; the result is the median of the rounds. Time is the CPU time of this
thread (user + system), which other processes on a shared machine barely disturb; wall time
is reported beside it. Logging is configured as in production (JSON, INFO) and written to
/dev/null, so formatting and writing the access line are counted.

    python bench/bench_middleware.py [ROUNDS]

`run(rounds=...)` returns the numbers for the benchmark suite.
Goal: overhead <= 15 us/request, access line included.
"""

import asyncio
import contextlib
import gc
import logging
import os
import statistics
import sys
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi import FastAPI

from app.logging_setup import configure_logging, flush_access_log
from app.telemetry import configure_telemetry
from bench.asgi import http_scope, no_body

GOAL_US = 15.0
REQUESTS_PER_ROUND = 2000
PATH = "/items/42"
HEADERS = [(b"host", b"bench"), (b"x-request-id", b"bench-request-1")]


def build_app(instrumented: bool) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(item_id: str) -> dict[str, str]:
        return {"item_id": item_id}

    if instrumented:
        configure_telemetry(app)
    return app


async def _time_requests(app: FastAPI, count: int) -> tuple[float, float]:
    """CPU (the whole process, the log writer's thread included) and wall microseconds per
    request for `count` sequential requests (all must be 200), their access lines written out."""
    statuses: list[int] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    gc.collect()
    flush_access_log()
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    for _ in range(count):
        await app(http_scope(PATH, headers=HEADERS), no_body, send)
    flush_access_log()  # the access lines are built and written by then, on any thread
    cpu, wall = time.process_time() - cpu_started, time.perf_counter() - wall_started
    if len(statuses) != count or set(statuses) != {200}:
        raise RuntimeError(f"benchmark app answered {sorted(set(statuses))}, expected 200")
    return cpu / count * 1e6, wall / count * 1e6


# Variant -> (instrumented app?, access log level). "metrics only" silences sbs.access, to show
# how the overhead splits between metrics/request id and the access log line.
VARIANTS = {
    "bare": (False, logging.INFO),
    "instrumented": (True, logging.INFO),
    "metrics_only": (True, logging.WARNING),
}


async def _measure(rounds: int, requests: int) -> dict[str, list[tuple[float, float]]]:
    apps = {False: build_app(False), True: build_app(True)}
    access_logger = logging.getLogger("sbs.access")
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}

    async def one(name: str, count: int) -> tuple[float, float]:
        instrumented, level = VARIANTS[name]
        access_logger.setLevel(level)
        try:
            return await _time_requests(apps[instrumented], count)
        finally:
            access_logger.setLevel(logging.NOTSET)

    for name in VARIANTS:  # warm-up: builds middleware stacks, fills caches
        await one(name, requests // 4)
    for round_number in range(rounds):
        order = list(VARIANTS) if round_number % 2 == 0 else list(reversed(VARIANTS))
        for name in order:
            samples[name].append(await one(name, requests))
    return samples


@contextlib.contextmanager
def json_logging_to_devnull() -> Iterator[None]:
    """The platform's JSON logging as `make up` has it, written to /dev/null; the root logger's
    handlers and level are put back afterwards, and queued access lines are flushed."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            configure_logging("INFO", "json")
            yield
            flush_access_log()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def run(rounds: int = 10, requests_per_round: int = REQUESTS_PER_ROUND) -> dict[str, Any]:
    """Median CPU microseconds per request of each variant and the overheads over bare."""
    with json_logging_to_devnull():
        samples = asyncio.run(_measure(rounds, requests_per_round))
    cpu = {name: statistics.median(c for c, _ in values) for name, values in samples.items()}
    wall = {name: statistics.median(w for _, w in values) for name, values in samples.items()}
    overhead = cpu["instrumented"] - cpu["bare"]
    return {
        "rounds": rounds,
        "requests_per_round": requests_per_round,
        "bare_us_per_request": round(cpu["bare"], 2),
        "instrumented_us_per_request": round(cpu["instrumented"], 2),
        "overhead_us_per_request": round(overhead, 2),
        "overhead_without_access_log_us_per_request": round(cpu["metrics_only"] - cpu["bare"], 2),
        "overhead_wall_us_per_request": round(wall["instrumented"] - wall["bare"], 2),
        "goal_us_per_request": GOAL_US,
        "meets_goal": overhead <= GOAL_US,
    }


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    result = run(rounds=rounds)
    print(f"bare FastAPI app:              {result['bare_us_per_request']:8.2f} us/request")
    print(f"with configure_telemetry:      {result['instrumented_us_per_request']:8.2f} us/request")
    print(
        f"overhead:                      {result['overhead_us_per_request']:8.2f} us/request "
        f"(goal <= {GOAL_US:.0f}: {'met' if result['meets_goal'] else 'NOT met'})"
    )
    print(
        "  of which without access log: "
        f"{result['overhead_without_access_log_us_per_request']:8.2f} us/request"
    )
    print(
        f"  wall-clock overhead:         {result['overhead_wall_us_per_request']:8.2f} us/request"
    )
    print(
        f"(CPU time of this thread, median of {result['rounds']} alternating rounds of "
        f"{result['requests_per_round']} requests; JSON access log to /dev/null)"
    )
    return 0 if result["meets_goal"] else 1


if __name__ == "__main__":
    sys.exit(main())
