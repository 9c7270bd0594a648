"""HTTP telemetry for the API: request id, access log, request metrics and `GET /metrics`.

`configure_telemetry(app)` adds one pure ASGI middleware and the `/metrics` route.

Every metric of the platform is a prometheus_client metric in its default registry, and
`GET /metrics` serves that registry (with prometheus_client's process and Python series).
The HTTP metrics follow the OpenTelemetry HTTP semantic conventions exactly as
OpenTelemetry's `PrometheusMetricReader` exports them (names, labels, second-scale buckets,
HELP and TYPE; `tests/unit/test_telemetry.py` compares the two expositions on the same
requests). They are recorded through prometheus_client rather than an OpenTelemetry meter
because the meter's synchronous instruments cost about 8 µs per call (attribute cleaning
and hashing), about 30 µs for a request's three instruments, against about 2 µs here
(`bench/RESULTS.md`, section 2).

Exported series, labels `http_request_method`, `http_response_status_code` and `http_route`
(the route template, `unmatched` when no route matched):
- `http_server_requests_total` counter
- `http_server_request_duration_seconds_{bucket,sum,count}` histogram, second-scale buckets
- `http_server_active_requests` gauge (in-flight requests, label `http_request_method` only)
"""

import itertools
import logging
import re
import secrets
import time
from typing import Any

import prometheus_client
from fastapi import FastAPI, Response
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logging_setup import request_id_var, write_access_line

REQUEST_ID_HEADER = "X-Request-ID"
UNMATCHED_ROUTE = "unmatched"
OTHER_METHOD = "_OTHER"

# Second-scale boundaries (the OpenTelemetry recommendation for http.server.request.duration).
DURATION_BUCKETS_SECONDS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
HTTP_LABELS = ("http_request_method", "http_response_status_code", "http_route")

# OpenTelemetry's exporter writes no `_created` series; neither do we.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # no annotations

REQUESTS = Counter("http_server_requests", "HTTP requests served.", HTTP_LABELS)
DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Duration of HTTP server requests.",
    HTTP_LABELS,
    buckets=DURATION_BUCKETS_SECONDS,
)
ACTIVE = Gauge("http_server_active_requests", "HTTP requests in flight.", ["http_request_method"])

# Unknown methods share one label value so a client cannot create series at will.
_KNOWN_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
)
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")
_REQUEST_ID_HEADER_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")


class HttpMetrics:
    """The request metrics, with each label set's series looked up once.

    prometheus_client's `labels()` costs about a microsecond per call; methods, routes and
    status codes are finite sets, so each label set's children are kept here. Requests in
    flight are plain integers the gauge reads when Prometheus collects (the event loop is
    the only writer), rather than two locked updates per request.
    """

    def __init__(self) -> None:
        self._finished: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._active: dict[str, int] = {}

    def started(self, method: str) -> None:
        active = self._active
        if method not in active:
            active[method] = 0
            ACTIVE.labels(method).set_function(lambda: self._active[method])
        active[method] += 1

    def finished(self, method: str, route: str, status_code: int, duration: float) -> None:
        self._active[method] -= 1
        key = (method, route, status_code)
        children = self._finished.get(key)
        if children is None:
            labels = (method, str(status_code), route)
            children = self._finished[key] = (REQUESTS.labels(*labels), DURATION.labels(*labels))
        requests, durations = children
        requests.inc()
        durations.observe(duration)


HTTP_METRICS = HttpMetrics()


def _request_id_from(scope: Scope) -> str:
    """The client's X-Request-ID when it is safe to echo and log, else a fresh one."""
    for name, value in scope["headers"]:
        if name == _REQUEST_ID_HEADER_KEY:
            candidate: str = value.decode("latin-1")
            if _REQUEST_ID_PATTERN.fullmatch(candidate):
                return candidate
            break
    return _new_request_id()


# Generated ids: a random per-process prefix and a counter, 32 hex characters like a UUID.
# Unique across replicas and restarts without a system call per request (uuid4 reads urandom).
_REQUEST_ID_PREFIX = secrets.token_hex(8)
_request_counter = itertools.count()


def _new_request_id() -> str:
    return f"{_REQUEST_ID_PREFIX}{next(_request_counter) & 0xFFFFFFFFFFFFFFFF:016x}"


def _route_template(scope: Scope) -> str:
    """The matched route's template (`/settings/{key}`), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


class TelemetryMiddleware:
    """Pure ASGI middleware: request id in and out, metrics and one access log line per request."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        request_id = _request_id_from(scope)
        request_id_header = (_REQUEST_ID_HEADER_KEY, request_id.encode("latin-1"))
        method = scope["method"] if scope["method"] in _KNOWN_METHODS else OTHER_METHOD
        status_code = 500  # stays 500 if the app fails or never starts a response

        async def send_with_request_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message["headers"] = [*message.get("headers", ()), request_id_header]
            await send(message)

        token = request_id_var.set(request_id)
        self._metrics.started(method)
        failed = False
        try:
            await self.app(scope, receive, send_with_request_id)
        except BaseException:
            failed = True
            raise
        finally:
            duration = time.perf_counter() - started
            if failed:
                status_code = 500
            route = _route_template(scope)
            self._metrics.finished(method, route, status_code, duration)
            level = logging.ERROR if status_code >= 500 else logging.INFO
            client = scope.get("client")
            address = client[0] if client else None
            arguments = (request_id, method, route, scope["path"], status_code, duration, address)
            write_access_line(level, _access_fields, *arguments, failed)
            request_id_var.reset(token)


def _access_fields(
    request_id: str,
    method: str,
    route: str,
    path: str,
    status_code: int,
    duration: float,
    client: str | None,
    failed: bool,
) -> tuple[str, dict[str, Any]]:
    """The access line's message and fields (built with its chunk, after the request)."""
    duration_ms = round(duration * 1000, 3)
    fields: dict[str, Any] = {
        "request_id": request_id,
        "method": method,
        "route": route,
        "path": path,
        "status": status_code,
        "duration_ms": duration_ms,
        "client": client,
    }
    if failed:
        fields["error"] = "unhandled exception"
    return f"{method} {path} {status_code} {duration_ms:.1f}ms", fields


def _metrics_endpoint() -> Response:
    """Everything in prometheus_client's default registry: ours and its process/Python series."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_PLAIN_0_0_4)


def configure_telemetry(app: FastAPI) -> None:
    """Add the telemetry middleware and `GET /metrics` to `app`; safe to call once per app."""
    if getattr(app.state, "telemetry_configured", False):
        return
    app.add_middleware(TelemetryMiddleware, metrics=HTTP_METRICS)
    app.add_api_route(
        "/metrics", _metrics_endpoint, methods=["GET"], include_in_schema=False, name="metrics"
    )
    app.state.telemetry_configured = True
