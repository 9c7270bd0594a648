"""OpenTelemetry traces of the API and the worker, configured only by the standard variables.

Tracing is on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is
set, or `OTEL_TRACES_EXPORTER` names `otlp` or `console`; `OTEL_TRACES_EXPORTER=none` turns it
off. When off nothing is installed: no provider, no instrumentation, no exporter, so the
request path pays nothing. When on:

- spans go out over OTLP/HTTP protobuf (`OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`, the only
  protocol installed; anything else stops the process with a message) through a batch
  processor (`OTEL_BSP_*`), or to stdout with `OTEL_TRACES_EXPORTER=console`;
- `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG` choose the sampler (SDK default:
  parentbased_always_on), `OTEL_SERVICE_NAME` the service name;
- incoming W3C `traceparent` is honoured (the default propagators, `OTEL_PROPAGATORS`);
- FastAPI server spans are named by route template (`GET /settings/{key}`), SQLAlchemy
  statements, Redis commands and httpx calls become child spans, NATS publish/request get
  spans of their own (app.services.nats_client), and Temporal's interceptor carries the
  context into the workflow and its activity.
"""

import logging
import os
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

SUPPORTED_PROTOCOL = "http/protobuf"
# Probes and scrapes would otherwise be most of the traces.
DEFAULT_EXCLUDED_URLS = "/metrics,/health/live,/health/ready"

_enabled = False


def _variable(name: str) -> str:
    return os.environ.get(name, "").strip()


def _exporters() -> set[str]:
    return {name.strip().lower() for name in _variable("OTEL_TRACES_EXPORTER").split(",") if name}


def tracing_requested() -> bool:
    exporters = _exporters()
    if "none" in exporters:
        return False
    endpoint = _variable("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or _variable(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    return bool(endpoint) or bool(exporters & {"otlp", "console"})


def _span_exporters() -> list[Any]:
    exporters = _exporters() or {"otlp"}
    unknown = exporters - {"otlp", "console"}
    if unknown:
        raise SystemExit(f"OTEL_TRACES_EXPORTER={','.join(sorted(unknown))} is not supported")
    chosen: list[Any] = []
    if "otlp" in exporters:
        for variable in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
            protocol = _variable(variable)
            if protocol and protocol != SUPPORTED_PROTOCOL:
                raise SystemExit(
                    f"{variable}={protocol} is not supported: use {SUPPORTED_PROTOCOL}"
                )
            if protocol:
                break
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        chosen.append(OTLPSpanExporter())  # endpoint, headers, timeout: OTEL_EXPORTER_OTLP_*
    if "console" in exporters:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        chosen.append(ConsoleSpanExporter())
    return chosen


def configure_tracing(service_name: str) -> bool:
    """Install the tracer provider and the library instrumentations once; False when off."""
    global _enabled
    if _enabled or not tracing_requested():
        return _enabled
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    for exporter in _span_exporters():
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    RedisInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()
    _enabled = True
    logger.info("tracing enabled", extra={"service_name": service_name})
    return True


def instrument_app(app: FastAPI, service_name: str) -> None:
    """Configure tracing (when requested) and give every request a server span named
    `METHOD /route/template`."""
    if not configure_tracing(service_name):
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    excluded = _variable("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS") or DEFAULT_EXCLUDED_URLS
    # No per-message "http send/receive" spans: they double the spans and say little.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=excluded, exclude_spans=["receive", "send"]
    )


def instrument_engine(engine: AsyncEngine) -> None:
    """A child span per SQL statement of this engine."""
    if not _enabled:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # The package declares SQLAlchemy < 2.1; 2.1 keeps the engine events it hooks, and
    # tests/integration/test_tracing.py proves the statement spans on the pinned version.
    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, skip_dep_check=True)


def temporal_interceptors() -> list[Any]:
    """For Client.connect: the client starts workflows in the current trace, and the worker
    (which inherits the client's interceptors) continues it in the workflow and activity."""
    if not _enabled:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]
