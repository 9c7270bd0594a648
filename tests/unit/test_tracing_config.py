"""Tracing is switched by the standard OTEL_* variables only: off (nothing installed) unless
an OTLP endpoint or an exporter asks for it, `none` wins, and an unsupported protocol or
exporter stops the process with a message naming the variable."""

import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from app import tracing

VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_TRACES_EXPORTER",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.mark.parametrize(
    ("environment", "requested"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, False),  # a protocol alone is not a wish
    ],
)
def test_only_the_standard_variables_switch_tracing_on(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], requested: bool
) -> None:
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    assert tracing.tracing_requested() is requested


def test_off_installs_nothing() -> None:
    app = FastAPI()
    tracing.instrument_app(app, "sbs-api")
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    assert app.user_middleware == []
    assert tracing.temporal_interceptors() == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
    ],
)
def test_unsupported_choices_stop_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit, match=f"^{variable}={value} is not supported"):
        tracing._span_exporters()
