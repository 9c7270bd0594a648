"""Section 5: /nats/test and /redis/test through the API against the raw client round trip.

The API figure includes a loopback HTTP exchange, so GET /health/live at one connection is
measured too: it is the HTTP floor of any request to the platform, and the "net" rows
compare what the broker routes add on top of it with the raw round trip. `bench.route_floor`
then splits the CPU of `POST /redis/test` layer by layer, in process.
"""

import asyncio
import json
from typing import Any

import nats
from redis.asyncio import Redis

from bench import route_floor
from bench.report import Result
from bench.stats import milliseconds, percentile, time_calls
from bench.wrk import run_wrk
from devstack.config import HOST, StackConfig

RAW_CALLS = 500
SECONDS = 3.0
SUBJECT = "backup.test"  # the API's NATS_SUBJECT default, answered by its echo responder
# What the route may add to the raw round trip beyond the HTTP exchange itself.
GOAL_EXCESS_MS = 0.1


async def raw_round_trips(config: StackConfig) -> dict[str, float]:
    """p50 (ms) of the same operations straight from this process with the same libraries."""
    bus = await nats.connect(f"nats://{HOST}:{config.ports['nats']}", connect_timeout=5)
    redis = Redis(host=HOST, port=config.ports["redis"], socket_timeout=5, decode_responses=True)

    async def request() -> None:
        reply = await bus.request(SUBJECT, b"ping", timeout=5)
        if reply.data != b"ping":
            raise RuntimeError(f"unexpected NATS echo {reply.data!r}")

    async def set_and_get() -> None:
        # The API's write_and_read: SET with a TTL and GET, in one MULTI/EXEC round trip.
        async with redis.pipeline(transaction=True) as pipe:
            pipe.set("sbs:test:bench-raw", "ok", ex=300)
            pipe.get("sbs:test:bench-raw")
            _, value = await pipe.execute()
        if value != "ok":
            raise RuntimeError(f"unexpected Redis value {value!r}")

    try:
        return {
            "nats": milliseconds(percentile(await time_calls(request, RAW_CALLS), 0.5)),
            "redis": milliseconds(percentile(await time_calls(set_and_get, RAW_CALLS), 0.5)),
        }
    finally:
        await bus.close()
        await redis.aclose()


async def api_p50(url: str, method: str = "GET", body: object = None) -> float:
    payload = json.dumps(body) if body is not None else ""
    run = await asyncio.to_thread(
        run_wrk, url, threads=1, connections=1, seconds=SECONDS, method=method, body=payload
    )
    return run.p50_ms


async def measure(config: StackConfig, details: dict[str, Any]) -> list[Result]:
    raw = await raw_round_trips(config)
    floor = await api_p50(config.api_url + "/health/live")
    api = {
        "nats": await api_p50(config.api_url + "/nats/test", "POST", {"message": "ping"}),
        "redis": await api_p50(config.api_url + "/redis/test", "POST", {"key": "bench"}),
    }
    details["brokers"] = {
        "raw_p50_ms": raw,
        "api_p50_ms": api,
        "http_floor_p50_ms": floor,
        "method": f"API: wrk, 1 connection, {SECONDS:g} s; raw: {RAW_CALLS} sequential calls",
    }
    details["route_floor"] = await route_floor.measure(config)
    print(f"  route floor {details['route_floor']['cpu_us']}", flush=True)
    print(f"  brokers raw {raw} api {api} http floor {floor} ms", flush=True)
    labels = {
        "nats": ("POST /nats/test", "nats-py request"),
        "redis": ("POST /redis/test", "redis-py SET+GET"),
    }
    results = []
    for name, (route, raw_name) in labels.items():
        excess = api[name] - raw[name] - floor
        results.append(
            Result(
                section="5",
                metric=f"{route} p50 over raw p50 + HTTP floor",
                unit="ms",
                platform=excess,
                baseline=None,
                baseline_name="",
                goal_kind="value<=",
                goal_value=GOAL_EXCESS_MS,
                note=(
                    f"API {api[name]:.3f} ms = {raw_name} {raw[name]:.3f} ms "
                    f"+ floor {floor:.3f} ms + {excess:.3f} ms"
                ),
            )
        )
    return results
