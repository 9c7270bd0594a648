"""Section 3: GET /health latency against the slowest single dependency check timed alone."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import nats
import psycopg
from redis.asyncio import Redis
from temporalio.client import Client

from bench.report import Result
from bench.stats import milliseconds, percentile, time_calls
from bench.wrk import run_wrk
from devstack.config import DATABASE_NAME, DATABASE_PASSWORD, DATABASE_USER, HOST, StackConfig

CHECK_CALLS = 500
SECONDS = 5.0
CONCURRENCY = (1, 64)
GOAL_RATIO = 2.0
# /health shares one evaluation of the checks between concurrent callers: at 64 connections it
# must serve far more than one round of checks per millisecond of the slowest check would allow.
MIN_HEALTH_THROUGHPUT = 1000.0


async def time_raw_checks(config: StackConfig) -> dict[str, list[float]]:
    """Each check the API's /health runs, done directly with the same client library, alone."""
    ports = config.ports
    database = await psycopg.AsyncConnection.connect(
        host=HOST, port=ports["postgresql"], user=DATABASE_USER, password=DATABASE_PASSWORD,
        dbname=DATABASE_NAME, autocommit=True, connect_timeout=5,
    )  # fmt: skip
    redis = Redis(host=HOST, port=ports["redis"], socket_timeout=5)
    bus = await nats.connect(f"nats://{HOST}:{ports['nats']}", connect_timeout=5)
    temporal = await Client.connect(f"{HOST}:{ports['temporal']}")

    async def select_one() -> None:
        await (await database.execute("SELECT 1")).fetchone()

    async def ping() -> None:
        await redis.ping()

    async def flush() -> None:
        await bus.flush(timeout=5)

    async def check_health() -> None:
        await temporal.service_client.check_health()

    checks: dict[str, Callable[[], Awaitable[object]]] = {
        "postgresql SELECT 1 (psycopg)": select_one,
        "redis PING (redis-py)": ping,
        "nats flush (nats-py)": flush,
        "temporal check_health (temporalio)": check_health,
    }
    try:
        return {name: await time_calls(check, CHECK_CALLS) for name, check in checks.items()}
    finally:
        await database.close()
        await redis.aclose()
        await bus.close()


async def measure(config: StackConfig, details: dict[str, Any]) -> list[Result]:
    raw = await time_raw_checks(config)
    raw_ms = {
        name: {"p50": milliseconds(percentile(d, 0.5)), "p99": milliseconds(percentile(d, 0.99))}
        for name, d in raw.items()
    }
    # The slowest check is picked by p50 (stable); /health's p99 is judged against its p99.
    slowest = max(raw_ms, key=lambda name: raw_ms[name]["p50"])
    slowest_p99 = raw_ms[slowest]["p99"]
    runs = {}
    for connections in CONCURRENCY:
        run = await asyncio.to_thread(
            run_wrk,
            config.api_url + "/health",
            threads=min(2, connections),
            connections=connections,
            seconds=SECONDS,
        )
        runs[connections] = run
        print(f"  /health c={connections:<3} p50 {run.p50_ms:.2f} ms  p99 {run.p99_ms:.2f} ms  "
              f"{run.requests_per_second:.0f} req/s", flush=True)  # fmt: skip
    details["health"] = {
        "raw_checks_ms": raw_ms,
        "raw_check_calls": CHECK_CALLS,
        "slowest_check": slowest,
        "wrk": {
            str(c): {
                "p50_ms": r.p50_ms,
                "p99_ms": r.p99_ms,
                "requests_per_second": r.requests_per_second,
            }
            for c, r in runs.items()
        },
    }
    one = runs[1]
    results = [
        Result(
            section="3",
            metric="GET /health p99, 1 concurrent",
            unit="ms",
            platform=one.p99_ms,
            baseline=slowest_p99,
            baseline_name=f"p99 of {slowest.split(' (')[0]}",
            goal_kind="ratio<=",
            goal_value=GOAL_RATIO,
            note=f"p50 {one.p50_ms:.2f} ms, {one.requests_per_second:,.0f} req/s",
        )
    ]
    for connections, run in runs.items():
        if connections == 1:
            continue
        # Little's law: with `connections` clients in a closed loop the mean latency is
        # connections / throughput, whatever one check costs; p99 is judged against that.
        queueing_ms = connections / run.requests_per_second * 1000
        results.append(
            Result(
                section="3",
                metric=f"GET /health p99, {connections} concurrent, vs {connections} / throughput",
                unit="ms",
                platform=run.p99_ms,
                baseline=queueing_ms,
                baseline_name=f"{connections} / {run.requests_per_second:,.0f} req/s",
                goal_kind="ratio<=",
                goal_value=GOAL_RATIO,
                note=f"p50 {run.p50_ms:.2f} ms",
            )
        )
        results.append(
            Result(
                section="3",
                metric=f"GET /health throughput, {connections} concurrent",
                unit="req/s",
                platform=run.requests_per_second,
                baseline=None,
                baseline_name="",
                goal_kind="value>=",
                goal_value=MIN_HEALTH_THROUGHPUT,
                note="one round of checks serves every caller waiting for it",
            )
        )
    return results
