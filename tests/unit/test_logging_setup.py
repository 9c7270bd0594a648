"""Proves configure_logging: JSON lines carry time/level/logger/message/extra/exception (and the
current span's ids, in that order), console lines are readable one-liners, repeated calls add no
handler, levels filter, uvicorn's loggers go through the same handler and its access log is
silenced."""

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext

from app.logging_setup import configure_logging, request_id_var


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back for the other tests."""
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {
        name: (list(logger.handlers), logger.level, logger.propagate, logger.disabled)
        for name in names
        for logger in [logging.getLogger(name)]
    }
    yield
    root.handlers[:] = saved_root[0]
    root.setLevel(saved_root[1])
    for name, (handlers, level, propagate, disabled) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled


def output_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line]


def test_json_line_has_the_standard_and_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    before = datetime.now(UTC)
    logging.getLogger("sbs.test").info("hello %s", "world", extra={"user": "ana", "count": 3})

    (line,) = output_lines(capsys)
    document = json.loads(line)
    assert document["level"] == "INFO"
    assert document["logger"] == "sbs.test"
    assert document["message"] == "hello world"
    assert document["user"] == "ana"
    assert document["count"] == 3
    assert document["time"].endswith("Z")
    moment = datetime.fromisoformat(document["time"])
    assert moment.tzinfo is not None
    assert abs((moment - before).total_seconds()) < 5
    assert "exception" not in document


def test_json_renders_exc_info_as_exception(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    try:
        raise ValueError("broken value 42")
    except ValueError:
        logging.getLogger("sbs.test").exception("it failed")

    (line,) = output_lines(capsys)
    document = json.loads(line)
    assert document["level"] == "ERROR"
    assert document["message"] == "it failed"
    assert "Traceback" in document["exception"]
    assert "ValueError: broken value 42" in document["exception"]


def test_json_writes_unencodable_extra_values_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    when = datetime(2020, 1, 2, tzinfo=UTC)
    logging.getLogger("sbs.test").info("odd", extra={"when": when, "where": Path("/srv/a")})

    (line,) = output_lines(capsys)
    document = json.loads(line)
    assert document["when"] == "2020-01-02T00:00:00+00:00"  # RFC 3339
    assert document["where"] == "/srv/a"  # str()


def test_request_id_from_context_is_added(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    token = request_id_var.set("req-123")
    try:
        logging.getLogger("sbs.test").info("inside a request")
    finally:
        request_id_var.reset(token)
    logging.getLogger("sbs.test").info("outside a request")

    inside, outside = (json.loads(line) for line in output_lines(capsys))
    assert inside["request_id"] == "req-123"
    assert "request_id" not in outside


def test_lines_carry_the_current_spans_ids_before_the_exception(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No switch to turn on: whenever a span is current, its ids are on the line."""
    configure_logging("INFO", "json")
    span = NonRecordingSpan(SpanContext(0x1F, 0x2E, is_remote=False))
    token = request_id_var.set("req-9")
    try:
        with trace.use_span(span):
            try:
                raise ValueError("inside a span")
            except ValueError:
                logging.getLogger("sbs.test").exception("traced", extra={"user": "ana"})
    finally:
        request_id_var.reset(token)
    logging.getLogger("sbs.test").info("no span")

    traced, untraced = (json.loads(line) for line in output_lines(capsys))
    order = "time level logger message user request_id trace_id span_id exception"
    assert list(traced) == order.split()
    assert traced["trace_id"] == f"{0x1F:032x}"
    assert traced["span_id"] == f"{0x2E:016x}"
    assert "trace_id" not in untraced


def test_console_format_is_one_readable_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", "console")
    logging.getLogger("sbs.test").debug("plain text", extra={"key": "value"})

    (line,) = output_lines(capsys)
    assert " DEBUG " in line
    assert "sbs.test: plain text" in line
    assert line.endswith("key=value")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_calling_twice_keeps_one_handler(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers_before = len(root.handlers)
    configure_logging("INFO", "json")
    configure_logging("INFO", "json")
    configure_logging("INFO", "console")
    assert len(root.handlers) == handlers_before + 1

    logging.getLogger("sbs.test").info("once")
    lines = output_lines(capsys)
    assert len(lines) == 1
    assert lines[0].endswith("sbs.test: once")  # the last call's format wins


def test_level_filters_lower_records(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING", "json")
    logger = logging.getLogger("sbs.test")
    logger.info("dropped")
    logger.warning("kept")

    lines = output_lines(capsys)
    assert [json.loads(line)["message"] for line in lines] == ["kept"]


def test_uvicorn_loggers_use_our_handler_and_access_log_is_silent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # What uvicorn's own default config would have left behind.
    logging.getLogger("uvicorn.error").addHandler(logging.StreamHandler())
    logging.getLogger("uvicorn.access").addHandler(logging.StreamHandler())
    configure_logging("INFO", "json")

    logging.getLogger("uvicorn.error").info(
        "Started server process", extra={"color_message": "Started \x1b[36mserver\x1b[0m"}
    )
    logging.getLogger("uvicorn.access").info("GET / 200")

    lines = output_lines(capsys)
    assert len(lines) == 1
    document = json.loads(lines[0])
    assert document["logger"] == "uvicorn.error"
    assert document["message"] == "Started server process"
    assert "color_message" not in document
    assert logging.getLogger("uvicorn.error").handlers == []


@pytest.mark.parametrize(
    ("level", "log_format", "variable"),
    [("LOUD", "json", "LOG_LEVEL"), ("INFO", "xml", "LOG_FORMAT")],
)
def test_invalid_values_are_refused_with_the_variable_name(
    level: str, log_format: str, variable: str
) -> None:
    with pytest.raises(ValueError, match=variable):
        configure_logging(level, log_format)


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_credentials_in_urls_are_redacted_in_every_line(
    capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    configure_logging("INFO", log_format)
    logger = logging.getLogger("sbs.test")
    logger.info("connecting to nats://user:nats-pass@nats:4222", extra={"url": "redis://:r-pass@r"})
    logger.info("db", extra={"url": "postgresql+psycopg://postgres:pg-pass@db:5432/app_db"})
    logger.info("token auth nats://s3cr3t-token@nats:4222 and a plain http://host/path?a@b")

    text = capsys.readouterr().out
    for secret in ("nats-pass", "r-pass", "pg-pass", "s3cr3t-token"):
        assert secret not in text
    assert "nats://***@nats:4222" in text
    assert "@db:5432/app_db" in text
    assert "http://host/path?a@b" in text  # no user-info part: nothing to hide


def test_console_lines_escape_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    """A `\\n` in a client's path or input must not start a forged log line."""
    configure_logging("INFO", "console")
    forged = "x\n2026-01-01T00:00:00.000Z INFO     sbs.access: forged \x1b[31mred"
    logging.getLogger("sbs.test").info("GET %s", forged, extra={"path": "/a\r\nb"})

    (line,) = output_lines(capsys)
    assert "x\\n2026-01-01" in line
    assert "\\x1b[31m" in line
    assert "path=/a\\r\\nb" in line
