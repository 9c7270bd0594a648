"""Traces end to end, over real OTLP/HTTP: an API and a worker started with only the standard
variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf,
OTEL_SERVICE_NAME) against the test stack export to a receiver this test runs, which decodes
each ExportTraceServiceRequest. One `POST /test-workflow?wait=true` carrying a W3C
`traceparent` yields one trace that continues the caller's span and holds the API's server
span (named by route template) and the worker's workflow and activity spans; a PostgreSQL
statement, a Redis command and a NATS request become child spans of their requests; the
API's log lines of the request carry the trace id. The pair runs on a task queue of its own,
so the stack's untraced worker cannot take the workflow."""

import json
import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from devstack.config import HOST, PROJECT_ROOT, StackConfig, free_ports
from tests.waiting import answers_ok, wait_for

START_SECONDS = 60
EXPORT_SECONDS = 20
TASK_QUEUE = "traced-task-queue"


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str


class OtlpReceiver:
    """A minimal OTLP/HTTP trace receiver: POST /v1/traces with a protobuf body."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.content_types: set[str] = set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                receiver.accept(self.headers.get("Content-Type", ""), body)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def accept(self, content_type: str, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        received = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=attributes.get("service.name", ""),
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                        )
                    )
        with self._lock:
            self.content_types.add(content_type)
            self.spans.extend(received)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [span for span in self.spans if span.trace_id == trace_id]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class TracedPair:
    api_url: str
    api_log: Path
    receiver: OtlpReceiver


@pytest.fixture(scope="module")
def traced(stack: StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TracedPair]:
    receiver = OtlpReceiver()
    logs = tmp_path_factory.mktemp("traced")
    api_port, metrics_port, health_port = free_ports(3)
    environment = {
        **os.environ,
        **stack.app_environment(),
        "API_PORT": str(api_port),
        "WORKER_METRICS_PORT": str(metrics_port),
        "WORKER_HEALTH_PORT": str(health_port),
        "TEMPORAL_TASK_QUEUE": TASK_QUEUE,
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # milliseconds: export soon after the request
    }
    children = []
    try:
        for name, script, service in (
            ("api", "entrypoint.py", "sbs-api"),
            ("worker", "run_worker.py", "sbs-worker"),
        ):
            log = (logs / f"{name}.log").open("w")
            children.append(
                subprocess.Popen(
                    [sys.executable, str(PROJECT_ROOT / script)],
                    cwd=PROJECT_ROOT,
                    env={**environment, "OTEL_SERVICE_NAME": service},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        api_url = f"http://{HOST}:{api_port}"
        wait_for(
            lambda: answers_ok(f"{api_url}/health/ready", timeout=2),
            START_SECONDS,
            "traced API ready",
        )
        worker_health = f"http://{HOST}:{health_port}/health/live"
        wait_for(lambda: answers_ok(worker_health, timeout=2), START_SECONDS, "traced worker live")
        yield TracedPair(api_url, logs / "api.log", receiver)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        receiver.close()


def new_traceparent() -> tuple[str, str, str]:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{parent_id}-01", trace_id, parent_id


def test_one_workflow_request_is_one_trace_from_api_to_activity(traced: TracedPair) -> None:
    traceparent, trace_id, caller_span = new_traceparent()
    response = httpx.post(
        f"{traced.api_url}/test-workflow",
        params={"wait": "true"},
        json={"name": "Traced"},
        headers={"traceparent": traceparent},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "COMPLETED", response.json()

    def complete() -> bool:
        # Each process exports on its own schedule: wait for the last span of each.
        names = {span.name for span in traced.receiver.trace(trace_id)}
        return "POST /test-workflow" in names and any(n.startswith("RunActivity:") for n in names)

    wait_for(complete, EXPORT_SECONDS, "the server and the activity spans to arrive")
    spans = traced.receiver.trace(trace_id)
    services = {span.service for span in spans}
    assert services == {"sbs-api", "sbs-worker"}, spans
    (server,) = [s for s in spans if s.name == "POST /test-workflow" and s.service == "sbs-api"]
    assert server.parent_span_id == caller_span  # the incoming traceparent was continued
    worker_names = {span.name for span in spans if span.service == "sbs-worker"}
    assert "RunWorkflow:TestWorkflow" in worker_names, worker_names
    assert "RunActivity:compose_greeting" in worker_names, worker_names
    assert any(s.name == "StartWorkflow:TestWorkflow" and s.service == "sbs-api" for s in spans)
    # Every span but the server span hangs below another span of the same trace.
    ids = {span.span_id for span in spans}
    assert all(span.parent_span_id in ids for span in spans if span is not server), spans
    assert traced.receiver.content_types == {"application/x-protobuf"}


def logged_trace_ids(log: Path) -> set[str]:
    ids = set()
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "trace_id" in record:
            ids.add(record["trace_id"])
    return ids


def test_the_requests_log_line_carries_its_trace_id(traced: TracedPair) -> None:
    traceparent, trace_id, _ = new_traceparent()
    response = httpx.get(
        f"{traced.api_url}/version", headers={"traceparent": traceparent}, timeout=10
    )
    assert response.status_code == 200
    wait_for(lambda: trace_id in logged_trace_ids(traced.api_log), 10, "the access log line")


@pytest.mark.parametrize(
    ("method", "path", "body", "child_name"),
    [
        ("GET", "/settings/core.version", None, r"^SELECT\b"),  # SQLAlchemy statement
        ("POST", "/redis/test", {"key": "traced", "value": "v"}, r"\bSET\b"),  # redis pipeline
        ("POST", "/nats/test", {"message": "traced"}, r"^(request|publish) backup\.test$"),
    ],
)
def test_dependency_calls_are_child_spans(
    traced: TracedPair, method: str, path: str, body: dict[str, str] | None, child_name: str
) -> None:
    traceparent, trace_id, _ = new_traceparent()
    response = httpx.request(
        method,
        f"{traced.api_url}{path}",
        json=body,
        headers={"traceparent": traceparent},
        timeout=10,
    )
    assert response.status_code < 300, response.text

    def child_of_server() -> bool:
        spans = traced.receiver.trace(trace_id)
        servers = {span.span_id for span in spans if span.name.startswith(f"{method} /")}
        return any(
            span.parent_span_id in servers and re.search(child_name, span.name) for span in spans
        )

    wait_for(child_of_server, EXPORT_SECONDS, f"a {child_name} span below {method} {path}")
