"""Proves the buffered access-line path: an access line is the text the logging handler writes
for a record with the same fields (one serializer per format; JSON lines compact, every field in
order), lines reach the output within the flush interval without an explicit flush, none is lost
across 100,000 requests and a clean stop, a busy caller renders its own chunks in order, and a
stalled output bounds the buffer (lines beyond it are dropped, counted and reported) without
blocking the writers."""

import contextlib
import io
import json
import logging
import math
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext

from app import logging_setup
from app.logging_setup import (
    ACCESS_LOGGER,
    RENDER_CHUNK_LINES,
    AccessLogWriter,
    configure_logging,
    flush_access_log,
    format_json_line,
    redact,
    request_id_var,
    write_access_line,
)
from tests.tools import unmeasured_environment
from tests.waiting import poll

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIELDS = {
    "request_id": "r-1",
    "method": "GET",
    "route": "/items/{item_id}",
    "path": "/items/1",
    "status": 200,
    "duration_ms": 0.123,
    "client": "127.0.0.1",
}


class StallingStream(io.StringIO):
    """A stdout whose writes block until `release` is set, like a log on a stalled disk."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def write(self, text: str) -> int:
        self.entered.set()
        if not self.release.wait(timeout=30):
            raise TimeoutError("the test never released the stream")
        return super().write(text)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes the root logger; put it back for the other tests."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def as_given(message: str, fields: dict[str, object]) -> tuple[str, dict[str, object]]:
    """A line's message and fields, as write_access_line's `describe`."""
    return message, fields


def access_output(
    capsys: pytest.CaptureFixture[str], log_format: str, message: str, fields: dict[str, object]
) -> str:
    """What write_access_line puts on stdout under `log_format`, flushed."""
    configure_logging("INFO", log_format)
    flush_access_log()
    capsys.readouterr()
    write_access_line(logging.ERROR, as_given, message, fields)
    flush_access_log()
    return capsys.readouterr().out


TRICKY_FIELDS = [
    FIELDS,
    {**FIELDS, "path": '/é/"quoted"\n\x01\u2028', "client": None, "error": "unhandled"},
    {**FIELDS, "duration_ms": 1e-07, "status": 500, "flag": True, "items": [1, "a"]},
    {**FIELDS, "duration_ms": float("nan"), "other": {"nested": 1.5}, "big": float("-inf")},
    {**FIELDS, "status": HTTPStatus.OK, "file": PurePosixPath("/srv/a"), "url": "nats://t@h"},
    {**FIELDS, "time": "forged", "level": 1, "logger": "other", "exception": "a field"},
]


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("traced", [False, True], ids=["no span", "span"])
@pytest.mark.parametrize("log_format", ["json", "console"])
@pytest.mark.parametrize("fields", TRICKY_FIELDS)
def test_the_access_line_is_the_handlers_line_for_the_same_record(
    fields: dict[str, object],
    log_format: str,
    traced: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = f"GET {fields['path']} 200 0.1ms"
    record = logging.LogRecord(ACCESS_LOGGER, logging.ERROR, __file__, 0, message, (), None)
    record.__dict__.update(fields)
    # The access line takes its time from time.time(): the record's moment, for both lines.
    monkeypatch.setattr(logging_setup, "time", SimpleNamespace(time=lambda: record.created))
    span = NonRecordingSpan(SpanContext(0xABC, 0xDEF, is_remote=False))
    with trace.use_span(span) if traced else contextlib.nullcontext():
        access_line = access_output(capsys, log_format, message, fields)
        logging.getLogger(ACCESS_LOGGER).handle(record)  # the logging module's own path
    handler_line = capsys.readouterr().out
    assert access_line == handler_line
    assert access_line.count("\n") == 1
    trace_ids = ('"trace_id":"' if log_format == "json" else "trace_id=") + f"{0xABC:032x}"
    assert (trace_ids in access_line) is traced


def json_safe(value: object) -> object:
    """What a JSON line holds for `value`: NaN and the infinities are null, what JSON cannot
    encode is its str()."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    return str(value)


def expected_document(
    created: float, fields: dict[str, object], exception: str, stack: str
) -> dict[str, object]:
    """The line as a document: the first four keys (no field replaces them), the fields in
    order, then `exception` and `stack`."""
    second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    document: dict[str, object] = {
        "time": f"{second}.{int(created % 1 * 1000):03d}Z",
        "level": "WARNING",
        "logger": "sbs.test",
        "message": "m\u00e9 \n",
    }
    for key, value in fields.items():
        document.setdefault(key, json_safe(value))
    document["exception"] = exception
    document["stack"] = stack
    return document


@pytest.mark.parametrize("created", [1_700_000_000.0, 1_700_000_059.9999, 1_767_225_599.5])
@pytest.mark.parametrize("fields", TRICKY_FIELDS)
def test_a_json_line_is_one_compact_line_with_every_field_in_order(
    fields: dict[str, object], created: float
) -> None:
    exception, stack = "Traceback (most recent call last):\n  ...", "Stack (most recent call last)"
    line = format_json_line(created, "WARNING", "sbs.test", "m\u00e9 \n", fields, exception, stack)
    expected = expected_document(created, fields, exception, stack)
    document = json.loads(line)
    assert list(document) == list(expected)
    assert document == json.loads(redact(json.dumps(expected)))  # credentials in URLs redacted
    assert "\n" not in line
    assert "\u00e9" in line  # non-ASCII text as it is, not escaped
    assert line.startswith('{"time":"')  # compact


def test_a_line_orjson_cannot_write_is_still_written() -> None:
    line = format_json_line(1_700_000_000.0, "INFO", "sbs.test", "m", {"big": 2**70})
    assert json.loads(line)["big"] == 2**70


@pytest.mark.usefixtures("restore_logging")
def test_console_access_line_is_readable_and_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    fields = {**FIELDS, "path": "/x\n2026 forged"}
    output = access_output(capsys, "console", "GET /x\nforged", fields)
    assert output.count("\n") == 1
    assert " ERROR    sbs.access: GET /x\\nforged request_id=r-1 method=GET" in output
    assert "path=/x\\n2026 forged" in output


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("log_format", ["json", "console"])
def test_access_lines_are_redacted(capsys: pytest.CaptureFixture[str], log_format: str) -> None:
    output = access_output(capsys, log_format, "m", {"path": "/a/redis://u:pw@h"})
    assert "pw" not in output
    assert "redis://***@h" in output


# Each test below swaps sys.stdout in its own body: pytest sets its capture after fixtures run.


def test_lines_reach_the_output_within_the_interval_without_a_flush() -> None:
    writer = AccessLogWriter(interval=0.05)
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        writer.start()
        writer.queue(str, "one line\n")
        poll(stdout.getvalue, lambda written: "one line" in written, 5, interval=0.01)
        assert stdout.getvalue() == "one line\n"
        writer.stop()


def test_stop_writes_everything_queued() -> None:
    writer = AccessLogWriter(interval=60)  # the thread never gets to it: only stop does
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        writer.start()
        for number in range(1000):
            writer.queue(str, f"{number}\n")
        assert stdout.getvalue() == ""
        writer.stop()
    assert stdout.getvalue().splitlines() == [str(number) for number in range(1000)]


def test_a_busy_caller_renders_its_own_chunks_in_order() -> None:
    """The call that fills a chunk renders it on the caller's thread (the writer thread taking
    the GIL to render cost a busy event loop more than the rendering); lines keep their order
    across chunks and what the writer thread renders at the flush."""
    rendered_on: list[str] = []

    def render(number: int) -> str:
        rendered_on.append(threading.current_thread().name)
        return f"{number}\n"

    writer = AccessLogWriter(interval=60)
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        for number in range(RENDER_CHUNK_LINES - 1):
            writer.queue(render, number)
        assert rendered_on == []
        writer.queue(render, RENDER_CHUNK_LINES - 1)
        assert rendered_on == [threading.current_thread().name] * RENDER_CHUNK_LINES
        assert stdout.getvalue() == ""  # rendered, not written: the writer thread writes
        for number in range(RENDER_CHUNK_LINES, 2 * RENDER_CHUNK_LINES + 5):
            writer.queue(render, number)
        writer.stop()
    assert stdout.getvalue().splitlines() == [str(n) for n in range(2 * RENDER_CHUNK_LINES + 5)]


def test_a_stalled_output_bounds_the_buffer_and_reports_the_drop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = StallingStream()
    with contextlib.redirect_stdout(stream):
        _stall_and_release(stream, caplog)


def _stall_and_release(stream: StallingStream, caplog: pytest.LogCaptureFixture) -> None:
    line = "x" * 99 + "\n"
    writer = AccessLogWriter(interval=0.01, max_pending_lines=100)
    writer.start()
    writer.queue(str, line)
    assert stream.entered.wait(timeout=5)  # the thread is now stuck inside write()
    writers_done = threading.Event()

    def write_many() -> None:
        for _ in range(10_000):
            writer.queue(str, line)
        writers_done.set()

    producer = threading.Thread(target=write_many)
    producer.start()
    # A stalled output must not block the request path: all 10,000 calls return.
    assert writers_done.wait(timeout=10)
    assert writer.pending_lines <= writer.max_pending_lines
    stream.release.set()
    producer.join()
    writer.stop()
    written = stream.getvalue().splitlines()
    kept = [text for text in written if text == line.strip()]
    assert len(kept) == 1 + 100  # the line being written, then the full buffer
    assert writer.dropped_total == 10_000 - 100
    reports = [record for record in caplog.records if record.name == "sbs.access"]
    assert [record.__dict__["dropped_lines"] for record in reports] == [10_000 - 100]
    assert reports[0].levelno == logging.WARNING


def test_write_access_line_respects_the_access_logger_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("WARNING", "json")
        flush_access_log()
        capsys.readouterr()
        write_access_line(logging.INFO, as_given, "GET / 200", FIELDS)
        write_access_line(logging.ERROR, as_given, "GET / 500", {**FIELDS, "status": 500})
        flush_access_log()
        lines = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
        assert [line["status"] for line in lines] == [500]
        assert lines[0]["level"] == "ERROR"
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        assert logging_setup._access_writer is not None


def test_no_access_line_lost_across_100000_requests_and_a_clean_stop() -> None:
    """A real process: the telemetry middleware, 100,000 requests, then the API's own exit."""
    script = textwrap.dedent(
        """
        import asyncio
        from fastapi import FastAPI
        from app.logging_setup import configure_logging
        from app.process_exit import exit_without_finalizing
        from app.telemetry import configure_telemetry

        configure_logging("INFO", "json")
        app = FastAPI()

        @app.get("/n/{number}")
        async def number(number: int) -> dict[str, int]:
            return {"number": number}

        configure_telemetry(app)

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            pass

        async def main():
            for n in range(100_000):
                path = f"/n/{n}"
                scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
                         "root_path": "", "query_string": b"", "headers": [],
                         "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
                         "scheme": "http", "http_version": "1.1", "asgi": {"version": "3.0"}}
                await app(scope, receive, send)

        asyncio.run(main())
        exit_without_finalizing(0)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env=unmeasured_environment(),  # a load, not coverage: measured it takes minutes
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    paths = [
        json.loads(line)["path"]
        for line in result.stdout.splitlines()
        if '"logger":"sbs.access"' in line
    ]
    assert len(paths) == 100_000
    assert paths == [f"/n/{n}" for n in range(100_000)]


@pytest.mark.usefixtures("restore_logging")
def test_an_access_line_keeps_the_request_and_span_it_was_written_in(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The line is built later, outside the request: what it takes from where it was
    written (request id, span) is taken at once."""
    configure_logging("INFO", "json")
    flush_access_log()
    capsys.readouterr()
    span = NonRecordingSpan(SpanContext(0xABC, 0xDEF, is_remote=False))
    token = request_id_var.set("written-inside")
    try:
        with trace.use_span(span):
            write_access_line(logging.INFO, as_given, "GET / 200", {"status": 200})
    finally:
        request_id_var.reset(token)
    flush_access_log()  # outside the request and the span
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["request_id"] == "written-inside"
    assert line["trace_id"] == f"{0xABC:032x}"
    assert line["span_id"] == f"{0xDEF:016x}"
