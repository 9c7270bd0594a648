"""The baselines, each with the platform's two cheap routes: a bare FastAPI app, a raw
Starlette app, and what a team would assemble from libraries instead of the platform's
telemetry (request id, request metrics on /metrics, one JSON access line per request):

- `peer-instrumentator`: asgi-correlation-id + prometheus-fastapi-instrumentator + uvicorn's
  access log as JSON through python-json-logger;
- `peer-otel`: asgi-correlation-id + opentelemetry-instrumentation-fastapi with a Prometheus
  reader + the same JSON access log.

`python -m bench.bare_apps KIND PORT` serves one on loopback with the same uvicorn settings as
the platform (one process, auto loop/http: uvloop + httptools when installed). The peers'
libraries are benchmark-only (requirements-dev.txt); they are imported only when served.
"""

import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app import __version__
from app.api.server import GRACEFUL_SHUTDOWN_SECONDS

VERSION_BODY = {"version": __version__, "build": "bench"}
LIVE_BODY = {"status": "alive"}


def create_fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/version")
    async def version() -> dict[str, str]:
        return VERSION_BODY

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return LIVE_BODY

    return app


async def starlette_version(request: Request) -> JSONResponse:
    return JSONResponse(VERSION_BODY)


async def starlette_live(request: Request) -> JSONResponse:
    return JSONResponse(LIVE_BODY)


def create_starlette_app() -> Starlette:
    return Starlette(
        routes=[Route("/version", starlette_version), Route("/health/live", starlette_live)]
    )


def create_instrumentator_peer() -> FastAPI:
    from asgi_correlation_id import CorrelationIdMiddleware
    from prometheus_fastapi_instrumentator import Instrumentator

    app = create_fastapi_app()
    Instrumentator().instrument(app).expose(app)
    app.add_middleware(CorrelationIdMiddleware)
    return app


def create_otel_peer() -> FastAPI:
    from asgi_correlation_id import CorrelationIdMiddleware
    from opentelemetry import metrics
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import make_asgi_app

    provider = MeterProvider(metric_readers=[PrometheusMetricReader()])
    metrics.set_meter_provider(provider)
    app = create_fastapi_app()
    FastAPIInstrumentor.instrument_app(app, meter_provider=provider)
    app.add_middleware(CorrelationIdMiddleware)
    app.mount("/metrics", make_asgi_app())
    return app


FACTORIES = {
    "fastapi": create_fastapi_app,
    "starlette": create_starlette_app,
    "peer-instrumentator": create_instrumentator_peer,
    "peer-otel": create_otel_peer,
}
PEERS = ("peer-instrumentator", "peer-otel")


def json_access_log_config() -> dict[str, Any]:
    """uvicorn's access log as one JSON object per request on stdout (python-json-logger),
    with the request id from asgi-correlation-id: what a team would configure."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"correlation_id": {"()": "asgi_correlation_id.CorrelationIdFilter"}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json",
                "filters": ["correlation_id"],
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        },
    }


# app.api.server.serve's uvicorn arguments without its own protocol and limits: every server
# the benchmark compares with the platform runs with these.
UVICORN_OPTIONS: dict[str, Any] = {
    "proxy_headers": True,
    "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
}


def serve(kind: str, host: str, port: int) -> None:
    peer = kind in PEERS
    uvicorn.run(
        f"bench.bare_apps:{FACTORIES[kind].__name__}",
        factory=True,
        host=host,
        port=port,
        log_config=json_access_log_config() if peer else None,
        access_log=peer,
        **UVICORN_OPTIONS,
    )


if __name__ == "__main__":
    serve(sys.argv[1], "127.0.0.1", int(sys.argv[2]))
