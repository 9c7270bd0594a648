"""Where the microseconds of a trivial route go, in process: CPU per request, layer by layer.

The same two routes (`GET /version`, `GET /health/live`) through a ladder of apps, each one
thing more than the last, driven by direct ASGI calls (no network, no server): bare
FastAPI; + the telemetry middleware without and with the access line; the platform's app
as `create_app` builds it (every router, error handlers, body limit, telemetry) with
LOG_LEVEL=WARNING and at INFO. Rounds alternate the order; medians of CPU time of this
thread. The access line is written to /dev/null through the platform's buffered writer.

    python -m bench.app_floor [ROUNDS]
"""

import asyncio
import gc
import logging
import statistics
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from fastapi import FastAPI

from app.api.main import create_app
from app.api.state import Services
from app.config import Settings
from app.telemetry import configure_telemetry
from bench.asgi import http_scope, no_body
from bench.bare_apps import create_fastapi_app
from bench.bench_middleware import json_logging_to_devnull

ENDPOINTS = ("/version", "/health/live")
REQUESTS_PER_ROUND = 2000
HEADERS = [(b"host", b"bench"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
ASGIApp = Callable[..., Any]


async def cpu_per_request(app: ASGIApp, path: str, count: int) -> float:
    """CPU microseconds per request for `count` sequential requests (all must answer 200)."""
    statuses: list[int] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    gc.collect()
    started = time.thread_time()
    for _ in range(count):
        await app(http_scope(path, headers=HEADERS), no_body, send)
    cpu = time.thread_time() - started
    if len(statuses) != count or set(statuses) != {200}:
        raise RuntimeError(f"{path} answered {sorted(set(statuses))}, expected 200")
    return cpu / count * 1e6


def _telemetry_app() -> FastAPI:
    app = create_fastapi_app()
    configure_telemetry(app)
    return app


def _platform_app() -> FastAPI:
    settings = Settings()
    app = create_app(settings)
    app.state.services = Services.create(settings)  # no I/O: clients connect on first use
    return app


# name -> (app factory, sbs.access level)
LADDER: dict[str, tuple[Callable[[], FastAPI], int]] = {
    "bare FastAPI": (create_fastapi_app, logging.INFO),
    "+ telemetry, no access line": (_telemetry_app, logging.WARNING),
    "+ telemetry and access line": (_telemetry_app, logging.INFO),
    "platform app, no access line": (_platform_app, logging.WARNING),
    "platform app (as make up)": (_platform_app, logging.INFO),
}


async def _measure(rounds: int, requests: int) -> dict[str, dict[str, list[float]]]:
    apps = {name: factory() for name, (factory, _) in LADDER.items()}
    access = logging.getLogger("sbs.access")
    samples: dict[str, dict[str, list[float]]] = {e: {n: [] for n in LADDER} for e in ENDPOINTS}
    names = list(LADDER)
    for round_number in range(rounds + 1):  # round 0 warms every app up and is not kept
        order = names if round_number % 2 else list(reversed(names))
        for endpoint in ENDPOINTS:
            for name in order:
                access.setLevel(LADDER[name][1])
                count = requests // 4 if round_number == 0 else requests
                value = await cpu_per_request(apps[name], endpoint, count)
                if round_number:
                    samples[endpoint][name].append(value)
    access.setLevel(logging.NOTSET)
    return samples


def run(rounds: int = 7, requests_per_round: int = REQUESTS_PER_ROUND) -> dict[str, Any]:
    """Median CPU µs per request of each rung, per endpoint."""
    with json_logging_to_devnull():
        samples = asyncio.run(_measure(rounds, requests_per_round))
    return {
        "rounds": rounds,
        "requests_per_round": requests_per_round,
        "cpu_us_per_request": {
            endpoint: {name: round(statistics.median(v), 2) for name, v in by_name.items()}
            for endpoint, by_name in samples.items()
        },
    }


def main() -> int:
    result = run(rounds=int(sys.argv[1]) if len(sys.argv) > 1 else 7)
    for endpoint, by_name in result["cpu_us_per_request"].items():
        bare = by_name["bare FastAPI"]
        print(endpoint)
        for name, value in by_name.items():
            print(f"  {name:<32} {value:7.2f} µs  (+{value - bare:6.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
