"""Section 1: /version and /health/live throughput: the platform API against bare FastAPI, raw
Starlette and the library-assembled peers (bench.bare_apps), all in the same alternated rounds."""

import asyncio
from typing import Any

from bench.report import Result
from bench.stats import median
from bench.wrk import run_wrk

ENDPOINTS = ("/version", "/health/live")
THREADS = 2
CONNECTIONS = 32
SECONDS = 3.0
WARMUP_SECONDS = 1.0
# Many short rounds rather than a few long ones: on a shared machine the rate drifts by
# ±10 % from one run to the next, and the median of seven rounds holds still where three did not.
ROUNDS = 7
GOAL_RATIO = 0.85
PEER_GOAL_RATIO = 1.5
PEER_NAMES = {
    "peer-instrumentator": "asgi-correlation-id + prometheus-fastapi-instrumentator + JSON log",
    "peer-otel": "asgi-correlation-id + OpenTelemetry FastAPI instrumentation + JSON log",
}


def rotated(names: list[str], shift: int) -> list[str]:
    """Each round starts with a different target, so no target always runs first or last."""
    shift %= len(names)
    return names[shift:] + names[:shift]


async def measure(targets: dict[str, str], details: dict[str, Any]) -> list[Result]:
    """`targets` maps platform/fastapi/starlette to a base URL; medians of alternated rounds."""
    names = list(targets)
    rounds: dict[str, dict[str, list[float]]] = {e: {n: [] for n in names} for e in ENDPOINTS}
    for endpoint in ENDPOINTS:
        for name in names:
            await asyncio.to_thread(
                run_wrk, targets[name] + endpoint, connections=CONNECTIONS, seconds=WARMUP_SECONDS
            )
        for round_index in range(ROUNDS):
            for name in rotated(names, round_index):
                run = await asyncio.to_thread(
                    run_wrk,
                    targets[name] + endpoint,
                    threads=THREADS,
                    connections=CONNECTIONS,
                    seconds=SECONDS,
                )
                rounds[endpoint][name].append(run.requests_per_second)
                print(
                    f"  {endpoint:<13} {name:<10} {run.requests_per_second:8.0f} req/s", flush=True
                )
    details["http_throughput"] = {
        "wrk": f"{THREADS} threads, {CONNECTIONS} connections, {SECONDS:g} s per run",
        "rounds_requests_per_second": rounds,
        # Platform / bare FastAPI within each round: how far the rounds spread.
        "round_ratios_vs_fastapi": {
            endpoint: [
                round(platform / bare, 3)
                for platform, bare in zip(by_name["platform"], by_name["fastapi"], strict=True)
            ]
            for endpoint, by_name in rounds.items()
            if "platform" in by_name and "fastapi" in by_name
        },
    }
    results = []
    for endpoint in ENDPOINTS:
        medians = {name: median(values) for name, values in rounds[endpoint].items()}
        peers = {name: medians[name] for name in PEER_NAMES if name in medians}
        if peers:
            best = max(peers, key=peers.__getitem__)
            results.append(
                Result(
                    section="1",
                    metric=f"GET {endpoint} throughput vs the best library-assembled peer",
                    unit="req/s",
                    platform=medians["platform"],
                    baseline=peers[best],
                    baseline_name=PEER_NAMES[best],
                    goal_kind="ratio>=",
                    goal_value=PEER_GOAL_RATIO,
                    note=", ".join(f"{name} {value:,.0f} req/s" for name, value in peers.items()),
                )
            )
        results.append(
            Result(
                section="1",
                metric=f"GET {endpoint} throughput",
                unit="req/s",
                platform=medians["platform"],
                baseline=medians["fastapi"],
                baseline_name="bare FastAPI",
                goal_kind="ratio>=",
                goal_value=GOAL_RATIO,
                note=f"raw Starlette {medians['starlette']:,.0f} req/s",
            )
        )
    return results
