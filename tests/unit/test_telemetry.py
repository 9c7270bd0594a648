"""Proves configure_telemetry: /metrics counts exactly the requests made per method/route/status,
unknown paths collapse into one `unmatched` route, a raising route counts as 500, durations use
second-scale buckets, in-flight requests are gauged, X-Request-ID is echoed or replaced, and one
JSON access line per request carries the agreed fields."""

import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.logging_setup import configure_logging, flush_access_log
from app.telemetry import (
    DURATION_BUCKETS_SECONDS,
    HTTP_METRICS,
    UNMATCHED_ROUTE,
    configure_telemetry,
)

REQUESTS = "http_server_requests_total"
DURATION_COUNT = "http_server_request_duration_seconds_count"
DURATION_BUCKET = "http_server_request_duration_seconds_bucket"
ACTIVE = "http_server_active_requests"
DURATION_FAMILY = "http_server_request_duration_seconds"
HTTP_LABELS = {"http_request_method", "http_route", "http_response_status_code"}


def build_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(item_id: str) -> dict[str, str]:
        return {"item_id": item_id}

    @app.get("/missing/{item_id}")
    async def missing_item(item_id: str) -> None:
        raise HTTPException(status_code=404, detail="no such item")

    @app.get("/explode")
    async def explode() -> None:
        raise RuntimeError("boom")

    @app.get("/explode-mid-stream")
    async def explode_mid_stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first chunk"
            raise RuntimeError("broken stream")

        return StreamingResponse(chunks())

    @app.get("/in-flight")
    async def in_flight() -> dict[str, float]:
        return {"active": sample_value(ACTIVE, http_request_method="GET")}

    @app.post("/in-flight")
    async def in_flight_post() -> dict[str, float]:
        return {
            "post": sample_value(ACTIVE, http_request_method="POST"),
            "get": sample_value(ACTIVE, http_request_method="GET"),
        }

    @app.get("/log-inside")
    async def log_inside() -> dict[str, bool]:
        logging.getLogger("sbs.test").info("handler speaking")
        return {"ok": True}

    configure_telemetry(app)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """JSON logging to the captured stdout, restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("INFO", "json")
    flush_access_log()
    capsys.readouterr()
    yield capsys
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def scrape_text(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return scrape_text(response.text)


def sample_value(name: str, **labels: str) -> float:
    """Read one sample straight from the registry (no HTTP), 0 when absent."""
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def request_labels(method: str, route: str, status: int) -> frozenset[tuple[str, str]]:
    return frozenset(
        {
            "http_request_method": method,
            "http_route": route,
            "http_response_status_code": str(status),
        }.items()
    )


async def test_counts_exactly_the_requests_made(client: httpx.AsyncClient) -> None:
    labels = request_labels("GET", "/items/{item_id}", 200)
    before = await scrape(client)
    for index in range(7):
        response = await client.get(f"/items/{index}")
        assert response.status_code == 200
    after = await scrape(client)

    assert after[(REQUESTS, labels)] - before.get((REQUESTS, labels), 0) == 7
    assert after[(DURATION_COUNT, labels)] - before.get((DURATION_COUNT, labels), 0) == 7
    # The route template is the label, never a concrete path.
    routes = {dict(key[1]).get("http_route") for key in after if key[0] == REQUESTS}
    assert not any(route and route.startswith("/items/") and "{" not in route for route in routes)


async def test_status_code_from_http_exception_is_recorded(client: httpx.AsyncClient) -> None:
    labels = request_labels("GET", "/missing/{item_id}", 404)
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get("/missing/x")).status_code == 404
    after = await scrape(client)
    assert after[(REQUESTS, labels)] - before.get((REQUESTS, labels), 0) == 3


async def test_unknown_paths_collapse_into_one_series(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    random_paths = [f"/nowhere/{uuid.uuid4().hex}" for _ in range(25)]
    for path in random_paths:
        assert (await client.get(path)).status_code == 404
    after = await scrape(client)

    unmatched = request_labels("GET", UNMATCHED_ROUTE, 404)
    assert after[(REQUESTS, unmatched)] - before.get((REQUESTS, unmatched), 0) == 25
    new_series = {key for key in after if key not in before and key[0] == REQUESTS}
    assert new_series <= {(REQUESTS, unmatched)}
    exported = json.dumps(sorted(str(key) for key in after))
    assert not any(path.rsplit("/", 1)[1] in exported for path in random_paths)


async def test_exception_in_route_counts_as_500(client: httpx.AsyncClient) -> None:
    labels = request_labels("GET", "/explode", 500)
    before = await scrape(client)
    response = await client.get("/explode")
    assert response.status_code == 500
    after = await scrape(client)
    assert after[(REQUESTS, labels)] - before.get((REQUESTS, labels), 0) == 1
    assert after[(DURATION_COUNT, labels)] - before.get((DURATION_COUNT, labels), 0) == 1


async def test_exception_after_response_started_counts_as_500(client: httpx.AsyncClient) -> None:
    failed = request_labels("GET", "/explode-mid-stream", 500)
    started = request_labels("GET", "/explode-mid-stream", 200)
    before = await scrape(client)
    await client.get("/explode-mid-stream")
    after = await scrape(client)
    assert after[(REQUESTS, failed)] - before.get((REQUESTS, failed), 0) == 1
    assert after.get((REQUESTS, started), 0) == before.get((REQUESTS, started), 0)


async def test_duration_histogram_uses_second_scale_buckets(client: httpx.AsyncClient) -> None:
    await client.get("/items/bucket")
    samples = await scrape(client)
    labels = request_labels("GET", "/items/{item_id}", 200)
    bounds = {
        float(dict(key[1])["le"])
        for key in samples
        if key[0] == DURATION_BUCKET and key[1] >= labels
    }
    assert bounds == {*DURATION_BUCKETS_SECONDS, float("inf")}
    # An in-process request takes well under 10 s, so it lands below the top finite bucket.
    top = frozenset({*labels, ("le", "10.0")})
    assert samples[(DURATION_BUCKET, top)] == samples[(DURATION_COUNT, labels)]


async def test_every_http_series_has_exactly_the_agreed_labels(client: httpx.AsyncClient) -> None:
    await client.get("/items/labels")
    samples = await scrape(client)
    for name, labels in samples:
        if name in (REQUESTS, DURATION_COUNT):
            assert {key for key, _ in labels} == HTTP_LABELS, (name, labels)
        if name == ACTIVE:
            assert {key for key, _ in labels} == {"http_request_method"}


async def test_in_flight_requests_are_gauged(client: httpx.AsyncClient) -> None:
    idle = sample_value(ACTIVE, http_request_method="GET")
    response = await client.get("/in-flight")
    assert response.json()["active"] == idle + 1
    assert sample_value(ACTIVE, http_request_method="GET") == idle


async def test_in_flight_requests_are_gauged_per_method(client: httpx.AsyncClient) -> None:
    idle_post = sample_value(ACTIVE, http_request_method="POST")
    idle_get = sample_value(ACTIVE, http_request_method="GET")
    response = await client.post("/in-flight")
    assert response.json() == {"post": idle_post + 1, "get": idle_get}


async def test_unknown_methods_share_one_label(client: httpx.AsyncClient) -> None:
    labels = request_labels("_OTHER", "/items/{item_id}", 405)
    before = await scrape(client)
    for method in ("FOO", "BREW", "PROPFIND"):
        assert (await client.request(method, "/items/1")).status_code == 405
    after = await scrape(client)
    assert after[(REQUESTS, labels)] - before.get((REQUESTS, labels), 0) == 3
    methods = {dict(key[1])["http_request_method"] for key in after if key[0] == REQUESTS}
    assert not methods & {"FOO", "BREW", "PROPFIND"}


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/items/1", headers={"X-Request-ID": "client-id_1.2"})
    assert response.headers["x-request-id"] == "client-id_1.2"


@pytest.mark.parametrize("given", [None, "has space", "<script>", "x" * 129, ""])
async def test_missing_or_invalid_request_id_is_replaced(
    client: httpx.AsyncClient, given: str | None
) -> None:
    headers = {} if given is None else {"X-Request-ID": given}
    response = await client.get("/items/1", headers=headers)
    generated = response.headers["x-request-id"]
    assert generated != given
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    following = (await client.get("/items/1", headers=headers)).headers["x-request-id"]
    assert following != generated


async def test_longest_valid_request_id_is_kept(client: httpx.AsyncClient) -> None:
    given = "a" * 128
    response = await client.get("/items/1", headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given


async def test_one_access_log_line_per_request(
    client: httpx.AsyncClient, json_logs: pytest.CaptureFixture[str]
) -> None:
    await client.get("/items/42?secret=1", headers={"X-Request-ID": "log-check"})
    await client.get("/explode")
    flush_access_log()

    lines = [json.loads(line) for line in json_logs.readouterr().out.splitlines() if line]
    access = [line for line in lines if line["logger"] == "sbs.access"]
    assert len(access) == 2
    ok, failed = access
    assert ok["request_id"] == "log-check"
    assert ok["method"] == "GET"
    assert ok["route"] == "/items/{item_id}"
    assert ok["path"] == "/items/42"
    assert ok["status"] == 200
    assert ok["level"] == "INFO"
    assert isinstance(ok["duration_ms"], float)
    assert ok["duration_ms"] >= 0
    assert ok["client"] == "127.0.0.1"
    assert ok["time"].endswith("Z")
    assert "secret" not in json.dumps(ok)  # the query string is never logged
    assert failed["status"] == 500
    assert failed["level"] == "ERROR"
    assert failed["route"] == "/explode"


async def test_log_lines_inside_a_request_carry_its_id(
    client: httpx.AsyncClient, json_logs: pytest.CaptureFixture[str]
) -> None:
    await client.get("/log-inside", headers={"X-Request-ID": "inner-42"})
    lines = [json.loads(line) for line in json_logs.readouterr().out.splitlines() if line]
    inner = [line for line in lines if line["logger"] == "sbs.test"]
    assert [line["request_id"] for line in inner] == ["inner-42"]


def test_many_apps_share_one_set_of_metrics_and_configure_is_idempotent() -> None:
    first, second = build_app(), build_app()
    configure_telemetry(first)
    metrics_routes = [route for route in first.routes if getattr(route, "path", "") == "/metrics"]
    assert len(metrics_routes) == 1
    assert len(first.user_middleware) == 1
    assert first.user_middleware[0].kwargs == second.user_middleware[0].kwargs
    # The metrics are registered once in the default registry: each family appears once.
    names = [family.name for family in REGISTRY.collect()]
    assert names.count("http_server_requests") == 1


async def test_non_http_scopes_pass_through_untouched() -> None:
    app = build_app()
    (middleware,) = app.user_middleware
    calls: list[tuple[object, object, object]] = []

    async def inner_app(scope: object, receive: object, send: object) -> None:
        calls.append((scope, receive, send))

    async def receive() -> dict[str, str]:
        return {"type": "lifespan.startup"}

    async def send(message: object) -> None:
        return None

    # Starlette types `cls` as a factory of the app alone; the kwargs are the middleware's own.
    factory: Any = middleware.cls
    telemetry = factory(inner_app, **middleware.kwargs)
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await telemetry(scope, receive, send)
    assert calls == [(scope, receive, send)]


# What OpenTelemetry's Prometheus exporter wrote for one 5 ms request before the histogram
# was aggregated by the platform (captured from opentelemetry-exporter-prometheus): the
# exposition must stay byte-for-byte the same. 5 ms is a bucket bound: bounds are inclusive.
OTEL_EXPORTER_HISTOGRAM = """\
# HELP http_server_request_duration_seconds Duration of HTTP server requests.
# TYPE http_server_request_duration_seconds histogram
""" + "".join(
    f'http_server_request_duration_seconds_bucket{{http_request_method="GET",'
    f'http_response_status_code="200",http_route="/golden",le="{le}"}} {count}\n'
    for le, count in [
        ("0.005", "1.0"), ("0.01", "1.0"), ("0.025", "1.0"), ("0.05", "1.0"),
        ("0.075", "1.0"), ("0.1", "1.0"), ("0.25", "1.0"), ("0.5", "1.0"), ("0.75", "1.0"),
        ("1.0", "1.0"), ("2.5", "1.0"), ("5.0", "1.0"), ("7.5", "1.0"), ("10.0", "1.0"),
        ("+Inf", "1.0"),
    ]
) + (
    'http_server_request_duration_seconds_count{http_request_method="GET",'
    'http_response_status_code="200",http_route="/golden"} 1.0\n'
    'http_server_request_duration_seconds_sum{http_request_method="GET",'
    'http_response_status_code="200",http_route="/golden"} 0.005\n'
)  # fmt: skip


def test_duration_exposition_is_the_opentelemetry_exporters() -> None:
    HTTP_METRICS.started("GET")
    HTTP_METRICS.finished("GET", "/golden", 200, 0.005)
    text = generate_latest(REGISTRY).decode()
    header = f"# HELP {DURATION_FAMILY} "
    family = text[text.index(header) :].split("\n# HELP ", 1)[0] + "\n"
    golden = [line for line in family.splitlines(keepends=True) if line.startswith("# ")]
    golden += [line for line in family.splitlines(keepends=True) if "/golden" in line]
    assert "".join(golden) == OTEL_EXPORTER_HISTOGRAM
    golden_requests = request_labels("GET", "/golden", 200)
    assert scrape_text(text)[(REQUESTS, golden_requests)] == 1


def opentelemetry_exposition(requests: list[tuple[str, str, int, float]]) -> str:
    """What OpenTelemetry's meter and `PrometheusMetricReader` export for these requests,
    with the instruments the semantic conventions name, in a registry of their own."""
    registry = CollectorRegistry(auto_describe=True)
    provider = MeterProvider(
        metric_readers=[PrometheusMetricReader(scope_info_enabled=False, registry=registry)],
        views=[
            View(
                instrument_name="http.server.request.duration",
                aggregation=ExplicitBucketHistogramAggregation(DURATION_BUCKETS_SECONDS),
            )
        ],
    )
    meter = provider.get_meter("semantic-conventions")
    counter = meter.create_counter(
        "http.server.requests", unit="{request}", description="HTTP requests served."
    )
    histogram = meter.create_histogram(
        "http.server.request.duration", unit="s", description="Duration of HTTP server requests."
    )
    active = meter.create_up_down_counter(
        "http.server.active_requests", unit="{request}", description="HTTP requests in flight."
    )
    for method, route, status, duration in requests:
        labels: dict[str, str | int] = {
            "http.request.method": method,
            "http.route": route,
            "http.response.status_code": status,
        }
        active.add(1, {"http.request.method": method})
        counter.add(1, labels)
        histogram.record(duration, labels)
        active.add(-1, {"http.request.method": method})
    try:
        return generate_latest(registry).decode()
    finally:
        provider.shutdown()


def families(text: str, route_marker: str) -> dict[str, list[str]]:
    """Each HTTP family's HELP, TYPE and the sample lines that carry `route_marker` (or, for
    the in-flight gauge, its method), as written."""
    found: dict[str, list[str]] = {}
    for name in (REQUESTS, DURATION_FAMILY, ACTIVE):
        lines = [line for line in text.splitlines() if line.startswith(f"# HELP {name} ")]
        lines += [line for line in text.splitlines() if line.startswith(f"# TYPE {name} ")]
        marker = 'http_request_method="PATCH"' if name == ACTIVE else route_marker
        lines += [line for line in text.splitlines() if line.startswith(name) and marker in line]
        found[name] = lines
    return found


def test_the_exposition_is_what_opentelemetrys_prometheus_reader_writes() -> None:
    """The spec's flow is OpenTelemetry with a PrometheusMetricReader: for the same requests,
    the platform's series are the ones that flow writes, line for line."""
    requests = [
        ("PATCH", "/otel-compared", 200, 0.005),  # on a bucket bound: bounds are inclusive
        ("PATCH", "/otel-compared", 200, 0.3),
        ("PATCH", "/otel-compared", 503, 12.0),  # beyond the last finite bound
    ]
    for method, route, status, duration in requests:
        HTTP_METRICS.started(method)
        HTTP_METRICS.finished(method, route, status, duration)
    ours = families(generate_latest(REGISTRY).decode(), 'http_route="/otel-compared"')
    theirs = families(opentelemetry_exposition(requests), 'http_route="/otel-compared"')
    assert len(ours[DURATION_FAMILY]) == 2 + 2 * (len(DURATION_BUCKETS_SECONDS) + 3)
    assert ours == theirs
