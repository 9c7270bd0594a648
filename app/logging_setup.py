"""Process-wide logging: one line per record on stdout, JSON for machines or text for people.

The API and the worker both call `configure_logging(level, log_format)` once at start-up.
`json` writes one JSON object per line with `time` (ISO-8601, UTC), `level`, `logger`,
`message`, every field passed through `extra=`, the current request id when there is one,
and `exception` when the record carries `exc_info`. `console` writes the same facts as one
readable line. Calling it again replaces our handler instead of adding a second one.
"""

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from opentelemetry import trace

# Set by the HTTP middleware for the duration of a request, so any log line can carry it.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=`. uvicorn adds
# `color_message` (the message with terminal colour codes), which a log line must not carry.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("name", logging.INFO, "path", 0, "msg", None, None))
) | {"message", "asctime", "taskName", "color_message"}

# uvicorn's own loggers go through our root handler; its access log is replaced by ours.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")
_UVICORN_ACCESS_LOGGER = "uvicorn.access"

# json.dumps builds a new encoder per call when given options; one shared encoder is reused.
_JSON_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)

# The user-info part of any URL (`postgresql://user:password@`, `nats://token@`): never logged.
_URL_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")
# Control characters a console line must not carry raw: a `\n` in a client's input would
# otherwise forge a log line, an escape sequence would drive the terminal.
_CONTROL_ESCAPES = {
    code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, 0x85, 0x2028, 0x2029)
} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_FORMATS = ("json", "console")


_second_cache: tuple[int, str] = (-1, "")


def _utc_timestamp(record: logging.LogRecord) -> str:
    """`2025-01-31T12:00:00.123Z`; the part up to the second is formatted once per second."""
    global _second_cache
    second = int(record.created)
    cached_second, prefix = _second_cache
    if second != cached_second:
        prefix = datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_cache = (second, prefix)
    milliseconds = int((record.created - second) * 1000)
    return f"{prefix}.{milliseconds:03d}Z"


def redact(text: str) -> str:
    """`scheme://***@host`: credentials in URLs are replaced, wherever they appear."""
    return _URL_CREDENTIALS.sub(r"\1***@", text) if "://" in text else text


def escape_controls(text: str) -> str:
    return text.translate(_CONTROL_ESCAPES)


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
    }
    if "request_id" not in fields:
        request_id = request_id_var.get()
        if request_id is not None:
            fields["request_id"] = request_id
    span = trace.get_current_span().get_span_context()
    if span.is_valid:  # only while tracing is on and a span is current
        fields["trace_id"] = format(span.trace_id, "032x")
        fields["span_id"] = format(span.span_id, "016x")
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record; values JSON cannot encode are written as their str()."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _utc_timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extra_fields(record).items():
            document.setdefault(key, value)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        return redact(_JSON_ENCODER.encode(document))


class ConsoleFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...`, then the traceback if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        message = escape_controls(record.getMessage())
        line = f"{_utc_timestamp(record)} {record.levelname:<8} {record.name}: {message}"
        fields = _extra_fields(record)
        if fields:
            line += " " + " ".join(
                f"{key}={escape_controls(str(value))}" for key, value in fields.items()
            )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return redact(line)


class _StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stdout` is at emit time (test capture swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging(level: str, log_format: str) -> None:
    """Send every log record of this process to stdout in `log_format` at `level` and above."""
    level_name = level.upper()
    if level_name not in _LEVELS:
        raise ValueError(f"LOG_LEVEL must be one of {', '.join(_LEVELS)}; got {level!r}")
    if log_format not in _FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(_FORMATS)}; got {log_format!r}")

    # Neither format prints process, thread or task names; not collecting them makes every
    # record cheaper (the API writes one per request).
    logging.logMultiprocessing = False
    logging.logProcesses = False
    logging.logThreads = False
    logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # Python 3.12+, no stub yet

    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StdoutHandler):
            root.removeHandler(handler)
            handler.close()

    handler = _StdoutHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else ConsoleFormatter())
    root.addHandler(handler)
    root.setLevel(level_name)

    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.setLevel(logging.NOTSET)
        uvicorn_logger.propagate = True
        uvicorn_logger.disabled = False

    access_logger = logging.getLogger(_UVICORN_ACCESS_LOGGER)
    access_logger.handlers.clear()
    access_logger.propagate = False
    access_logger.disabled = True
