"""Section 1: what a `/version` and a `/health/live` request cost the server process under wrk.

Every target serves the same two routes and is driven the same way in alternated rounds: the
platform's API as `make up` runs it, bare FastAPI and raw Starlette, the library-assembled
peers (bench.bare_apps), and the platform with parts taken away (bench.platform_variants),
the rungs that account for its difference from bare FastAPI. Per round, the CPU time of the
server's whole process (bench.process_cpu, every thread) divided by the requests it served:
unlike requests per second, this does not move with how wrk's threads and the server share
the CPUs. The goals are judged on the median round (`median_round`).
"""

import asyncio
from typing import Any

from bench.process_cpu import cpu_seconds, microseconds_per_request
from bench.report import Result
from bench.servers import Server
from bench.stats import median
from bench.wrk import run_wrk

ENDPOINTS = ("/version", "/health/live")
THREADS = 1
CONNECTIONS = 32
# Many short rounds: the machine's speed moves between seconds, and a burst spoils fewer of them.
SECONDS = 1.0
WARMUP_SECONDS = 1.0
ROUNDS = 15  # odd: the median round is one of them
# Efficiency is bare µs / platform µs: at least 0.85 of bare FastAPI's, twice the best peer's.
GOAL_EFFICIENCY = 0.85
PEER_GOAL_EFFICIENCY = 2.0
PEER_NAMES = {
    "peer-instrumentator": "asgi-correlation-id + prometheus-fastapi-instrumentator + JSON log",
    "peer-otel": "asgi-correlation-id + OpenTelemetry FastAPI instrumentation + JSON log",
}


def rotated(names: list[str], shift: int) -> list[str]:
    """Each round starts with a different target, so no target always runs first or last."""
    shift %= len(names)
    return names[shift:] + names[:shift]


def median_round(platform: list[float], baseline: list[float]) -> tuple[float, float]:
    """The (platform µs, baseline µs) of the round whose efficiency (baseline / platform) is the
    median of the rounds. The machine's speed moves by tens of per cent between rounds here;
    within a round the two ran seconds apart, so their ratio cancels that, while a ratio of two
    medians taken from different rounds does not."""
    pairs = sorted(zip(platform, baseline, strict=True), key=lambda pair: pair[1] / pair[0])
    return pairs[len(pairs) // 2]


def one_round(server: Server, url: str) -> tuple[float, float, float]:
    """One wrk run: the server's CPU µs per request, requests per second, p99 latency (ms)."""
    before = cpu_seconds(server.pid)
    run = run_wrk(url, threads=THREADS, connections=CONNECTIONS, seconds=SECONDS)
    after = cpu_seconds(server.pid)
    microseconds = microseconds_per_request(before, after, run.requests)
    return microseconds, run.requests_per_second, run.p99_ms


async def measure(targets: dict[str, Server], details: dict[str, Any]) -> list[Result]:
    """`targets` maps a name (platform, fastapi, starlette, the peers, the rungs) to a server."""
    names = list(targets)
    cpu: dict[str, dict[str, list[float]]] = {e: {n: [] for n in names} for e in ENDPOINTS}
    rates: dict[str, dict[str, list[float]]] = {e: {n: [] for n in names} for e in ENDPOINTS}
    p99s: dict[str, dict[str, list[float]]] = {e: {n: [] for n in names} for e in ENDPOINTS}
    for endpoint in ENDPOINTS:
        for name in names:
            url = targets[name].url + endpoint
            await asyncio.to_thread(run_wrk, url, threads=THREADS, seconds=WARMUP_SECONDS)
        for round_index in range(ROUNDS):
            for name in rotated(names, round_index):
                url = targets[name].url + endpoint
                microseconds, rate, p99 = await asyncio.to_thread(one_round, targets[name], url)
                cpu[endpoint][name].append(microseconds)
                rates[endpoint][name].append(rate)
                p99s[endpoint][name].append(p99)
                print(
                    f"  {endpoint:<13} {name:<20} {microseconds:6.1f} µs/request {rate:8.0f} req/s",
                    flush=True,
                )
    medians = {
        e: {n: median(values) for n, values in by_name.items()} for e, by_name in cpu.items()
    }
    details["http_cpu"] = {
        "wrk": f"{THREADS} thread, {CONNECTIONS} connections, {SECONDS:g} s per round",
        "rounds_cpu_us_per_request": cpu,
        "rounds_requests_per_second": rates,
        "rounds_p99_ms": p99s,
        "median_cpu_us_per_request": medians,
        # Bare FastAPI µs / platform µs within each round: how far the rounds spread.
        "round_efficiency_vs_fastapi": {
            endpoint: [
                round(bare / platform, 3)
                for platform, bare in zip(by_name["platform"], by_name["fastapi"], strict=True)
            ]
            for endpoint, by_name in cpu.items()
        },
    }
    results = []
    for endpoint in ENDPOINTS:
        by_name = cpu[endpoint]
        figures = medians[endpoint]
        spread = details["http_cpu"]["round_efficiency_vs_fastapi"][endpoint]
        rate = median(rates[endpoint]["platform"]) / median(rates[endpoint]["fastapi"])
        platform, bare = median_round(by_name["platform"], by_name["fastapi"])
        results.append(
            Result(
                section="1",
                metric=f"GET {endpoint} CPU per request of the server process",
                unit="µs",
                platform=platform,
                baseline=bare,
                baseline_name="bare FastAPI",
                goal_kind="ratio<=",
                goal_value=round(1 / GOAL_EFFICIENCY, 3),
                note=(
                    f"efficiency {bare / platform:.2f} of bare FastAPI's in the median of "
                    f"{ROUNDS} rounds (goal ≥ {GOAL_EFFICIENCY}), rounds "
                    f"{min(spread):.2f}-{max(spread):.2f}; medians of all rounds "
                    f"{figures['platform']:.1f} µs and {figures['fastapi']:.1f} µs; "
                    f"throughput {rate:.2f}x; raw Starlette {figures['starlette']:.1f} µs"
                ),
            )
        )
        best = min(PEER_NAMES, key=figures.__getitem__)
        platform, peer = median_round(by_name["platform"], by_name[best])
        results.append(
            Result(
                section="1",
                metric=f"GET {endpoint} CPU per request vs the best library-assembled peer",
                unit="µs",
                platform=platform,
                baseline=peer,
                baseline_name=PEER_NAMES[best],
                goal_kind="ratio<=",
                goal_value=1 / PEER_GOAL_EFFICIENCY,
                note=(
                    f"efficiency {peer / platform:.2f}x the peer's in the median of {ROUNDS} "
                    f"rounds (goal ≥ {PEER_GOAL_EFFICIENCY:g}x); medians of all rounds: "
                    + ", ".join(f"{name} {figures[name]:.1f} µs" for name in PEER_NAMES)
                ),
            )
        )
    return results
