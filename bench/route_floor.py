"""Where the microseconds of a broker route go, in process: CPU per `POST /redis/test`.

The same Redis round trip (`CacheService.write_and_read` on the stack's Redis) through a ladder
of apps, each one thing more than the last, driven by direct ASGI calls like `app_floor`: the
call alone; a bare FastAPI POST route with the platform's request and response models; +
`JsonBodyRoute`; + the `ServicesDep` dependency; + the demo-access dependency; + the telemetry
middleware and access line; the platform's app as `create_app` builds it. Rounds alternate the
order; the minimum of the rounds is kept (the least disturbed by other jobs). The platform's
`GET /health/live` is measured beside them: it is the in-process part of the HTTP floor that
section 5's goal subtracts.
"""

import gc
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI
from fastapi.routing import APIRoute

from app.api.auth import scoped
from app.api.deps import ServicesDep
from app.api.main import create_app
from app.api.routes.cache import RedisTestRequest, RedisTestResponse
from app.api.routing import JsonBodyRoute
from app.api.state import Services
from app.config import Settings
from app.services.identity import CACHE_TEST
from app.telemetry import configure_telemetry
from bench.asgi import http_scope, no_body
from bench.bench_middleware import json_logging_to_devnull
from devstack.config import StackConfig

ROUNDS = 7
REQUESTS_PER_ROUND = 1000
BODY = b'{"key": "bench-floor"}'
PATH = "/redis/test"
BODY_HEADERS = [
    (b"host", b"bench"),
    (b"content-type", b"application/json"),
    (b"content-length", b"%d" % len(BODY)),
]


async def receive_body() -> dict[str, Any]:
    return {"type": "http.request", "body": BODY, "more_body": False}


def _ladder_app(
    services: Services, route_class: type[APIRoute], with_services: bool, demo_access: bool
) -> FastAPI:
    app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.services = services
    router = APIRouter(
        route_class=route_class,
        dependencies=[scoped(CACHE_TEST, open_locally=True)] if demo_access else [],
    )

    async def answer(request: RedisTestRequest) -> RedisTestResponse:
        value = await services.cache.write_and_read(request.key, request.value, request.ttl_seconds)
        return RedisTestResponse(
            key=request.key, stored_key=request.key, value=value, ttl_seconds=request.ttl_seconds
        )

    if with_services:

        @router.post(PATH)
        async def with_dependency(
            services: ServicesDep, body: Annotated[RedisTestRequest | None, Body()] = None
        ) -> RedisTestResponse:
            return await answer(body or RedisTestRequest())

    else:

        @router.post(PATH)
        async def plain(
            body: Annotated[RedisTestRequest | None, Body()] = None,
        ) -> RedisTestResponse:
            return await answer(body or RedisTestRequest())

    app.router.routes.extend(router.routes)
    return app


async def _per_call(call: Callable[[], Awaitable[object]], count: int) -> float:
    gc.collect()
    started = time.thread_time()
    for _ in range(count):
        await call()
    return (time.thread_time() - started) / count * 1e6


async def measure(config: StackConfig, rounds: int = ROUNDS) -> dict[str, Any]:
    """CPU µs per call of each rung: the minimum of alternated rounds."""
    # What the stack's API reads from its environment (variable names are the field names).
    environment = {name.lower(): value for name, value in config.app_environment().items()}
    settings = Settings.model_validate(environment)
    platform = create_app(settings)
    # Its clients without its lifespan: no start-up checks, NATS responder or gc.freeze here.
    services = Services.create(settings)
    platform.state.services = services
    try:
        with json_logging_to_devnull():
            figures = await _measure(services, platform, rounds, REQUESTS_PER_ROUND)
    finally:
        await services.close()
    return {"rounds": rounds, "requests_per_round": REQUESTS_PER_ROUND, "cpu_us": figures}


async def _measure(
    services: Services, platform: FastAPI, rounds: int, requests: int
) -> dict[str, float]:
    telemetry = _ladder_app(services, JsonBodyRoute, with_services=True, demo_access=True)
    configure_telemetry(telemetry)
    apps: dict[str, FastAPI] = {
        "bare FastAPI POST route": _ladder_app(services, APIRoute, False, False),
        "+ JsonBodyRoute": _ladder_app(services, JsonBodyRoute, False, False),
        "+ ServicesDep": _ladder_app(services, JsonBodyRoute, True, False),
        "+ demo access": _ladder_app(services, JsonBodyRoute, True, True),
        "+ telemetry and access line": telemetry,
        "platform app (as make up)": platform,
    }
    statuses: list[int] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    def request(app: FastAPI) -> Callable[[], Awaitable[None]]:
        return lambda: app(http_scope(PATH, "POST", BODY_HEADERS), receive_body, send)

    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "the Redis call alone": lambda: services.cache.write_and_read("bench-floor", "ok", 300),
        **{name: request(app) for name, app in apps.items()},
        # The in-process part of the HTTP floor the broker goal subtracts.
        "platform app, GET /health/live": lambda: platform(
            http_scope("/health/live"), no_body, send
        ),
    }
    samples: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for round_number in range(rounds + 1):  # round 0 warms up and is not kept
        for name in names if round_number % 2 else list(reversed(names)):
            count = requests if round_number else requests // 4
            value = await _per_call(calls[name], count)
            if round_number:
                samples[name].append(value)
    if set(statuses) != {200}:
        raise RuntimeError(f"the ladder answered {sorted(set(statuses))}, expected 200")
    return {name: round(min(values), 1) for name, values in samples.items()}
