"""Process-wide logging: one line per record on stdout, JSON for machines or text for people.

Every process calls `configure_logging(level, log_format)` once at start-up, in one place:
`app.entrypoints._start`.
`json` writes one JSON object per line with `time` (ISO-8601, UTC), `level`, `logger`,
`message`, every field passed through `extra=`, the current request id when there is one,
and `exception` when the record carries `exc_info`. `console` writes the same facts as one
readable line. Calling it again replaces our handler instead of adding a second one.

The HTTP access line (one per request) takes a shorter path, `write_access_line`: it is
formatted straight to text, without a LogRecord, and appended to `AccessLogWriter`'s buffer,
which a background thread writes out in one `write` every FLUSH_INTERVAL_SECONDS (and at
exit), instead of a `write` system call per request. The buffer is bounded: when the output
stalls, lines beyond MAX_PENDING_BYTES are dropped and counted, and the count is logged once
the output moves again. Its lines have the same schema as every other record's.
"""

import atexit
import json
import logging
import re
import sys
import threading
import time
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
    return _utc_timestamp_at(record.created)


def _utc_timestamp_at(created: float) -> str:
    """`2025-01-31T12:00:00.123Z`; the part up to the second is formatted once per second."""
    global _second_cache
    second = int(created)
    cached_second, prefix = _second_cache
    if second != cached_second:
        prefix = datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_cache = (second, prefix)
    milliseconds = int((created - second) * 1000)
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


ACCESS_LOGGER = "sbs.access"
FLUSH_INTERVAL_SECONDS = 0.2
MAX_PENDING_BYTES = 8 * 1024 * 1024

_access_logger = logging.getLogger(ACCESS_LOGGER)


def _access_document(
    created: float, level: int, message: str, fields: dict[str, Any]
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "time": _utc_timestamp_at(created),
        "level": logging.getLevelName(level),
        "logger": ACCESS_LOGGER,
        "message": message,
    }
    document.update(fields)
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        document["trace_id"] = format(span.trace_id, "032x")
        document["span_id"] = format(span.span_id, "016x")
    return document


def _json_value(value: Any) -> str:
    """What _JSON_ENCODER writes for `value`; the access line's scalar types are done inline."""
    kind = type(value)
    if kind is str:
        return _json_string(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and -_INFINITY < value < _INFINITY:  # NaN and infinities: the encoder
        return float.__repr__(value)
    if value is None:
        return "null"
    return _JSON_ENCODER.encode(value)


# One JSON object written by hand instead of through JSONEncoder.encode: for a flat object of
# strings and numbers the result is the same text at about half the cost (≈ 2 µs a line).
_json_string = json.encoder.encode_basestring  # the C function
_json_keys: dict[str, str] = {}
_INFINITY = float("inf")


def format_access_json(created: float, level: int, message: str, fields: dict[str, Any]) -> str:
    """The access line as JsonFormatter would write it (same keys, same order, same text)."""
    parts = [
        '{"time": "',
        _utc_timestamp_at(created),
        _ACCESS_LEVEL_PREFIX.get(level) or _access_level_prefix(level),
        _json_string(message),
    ]
    for key, value in fields.items():
        encoded_key = _json_keys.get(key)
        if encoded_key is None:
            encoded_key = _json_keys[key] = f", {_json_string(key)}: "
        parts.append(encoded_key)
        # str and int inline (most fields): one call less per field than _json_value.
        kind = type(value)
        if kind is str:
            parts.append(_json_string(value))
        elif kind is int:
            parts.append(int.__repr__(value))
        else:
            parts.append(_json_value(value))
    if _trace_ids_in_lines:
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            parts.append(f', "trace_id": "{span.trace_id:032x}", "span_id": "{span.span_id:016x}"')
    parts.append("}")
    return redact("".join(parts))


_ACCESS_LEVEL_PREFIX: dict[int, str] = {}


def _access_level_prefix(level: int) -> str:
    prefix = _ACCESS_LEVEL_PREFIX[level] = (
        f'", "level": "{logging.getLevelName(level)}", "logger": "sbs.access", "message": '
    )
    return prefix


# Set by app.tracing when it turns tracing on: without it no span is ever current, and the
# lookup through OpenTelemetry's context would cost every access line for nothing.
_trace_ids_in_lines = False


def include_trace_ids() -> None:
    """Access lines carry `trace_id`/`span_id` of the current span from now on."""
    global _trace_ids_in_lines
    _trace_ids_in_lines = True


def format_access_console(created: float, level: int, message: str, fields: dict[str, Any]) -> str:
    """The access line as ConsoleFormatter would write it."""
    document = _access_document(created, level, message, fields)
    line = (
        f"{document.pop('time')} {document.pop('level'):<8} {document.pop('logger')}: "
        f"{escape_controls(document.pop('message'))}"
    )
    if document:
        line += " " + " ".join(
            f"{key}={escape_controls(str(value))}" for key, value in document.items()
        )
    return redact(line)


class AccessLogWriter:
    """A bounded in-memory buffer of access lines, written out in batches by a thread.

    `write` only appends under a lock (well under a microsecond); the thread writes what
    has gathered every `interval` seconds with one `write` on the stream `sys.stdout` is at
    that moment, and `flush` does the same at once (at exit and from tests). A stalled
    output never blocks the event loop and never holds more than `max_pending_bytes`.
    """

    def __init__(
        self,
        interval: float = FLUSH_INTERVAL_SECONDS,
        max_pending_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        self.interval = interval
        self.max_pending_bytes = max_pending_bytes
        self._lock = threading.Lock()  # guards the buffer; held only to append or swap
        self._flush_lock = threading.Lock()  # one writer at a time, in order
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._dropped = 0
        self.dropped_total = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    def write(self, line: str) -> None:
        """Queue one line (its newline included); dropped and counted when the buffer is full."""
        with self._lock:
            size = self._pending_bytes + len(line)
            if size > self.max_pending_bytes:
                self._dropped += 1
                return
            self._pending.append(line)
            self._pending_bytes = size

    def flush(self) -> None:
        """Write everything queued so far, then report lines dropped since the last flush."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending, self._pending_bytes = self._pending, [], 0
                dropped, self._dropped = self._dropped, 0
            if batch:
                stream = sys.stdout
                stream.write("".join(batch))
                stream.flush()
            if dropped:
                self.dropped_total += dropped
                _access_logger.warning(
                    "%d access log lines dropped: the log output was stalled",
                    dropped,
                    extra={"dropped_lines": dropped},
                )

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="access-log-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write what is left (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # a broken stream must not kill the writer for good
                logging.getLogger("sbs.logging").exception("writing access log lines failed")


_access_writer: AccessLogWriter | None = None
_access_formatter = format_access_json


def write_access_line(level: int, message: str, fields: dict[str, Any]) -> None:
    """One access line at `level`, through the buffered writer once logging is configured."""
    if not _access_logger.isEnabledFor(level):
        return
    writer = _access_writer
    if writer is None:  # logging not configured by us: the logging module's own path
        _access_logger.log(level, message, extra=fields)
        return
    writer.write(_access_formatter(time.time(), level, message, fields) + "\n")


def flush_access_log() -> None:
    """Write the queued access lines now (shutdown, tests)."""
    if _access_writer is not None:
        _access_writer.flush()


def _stop_access_writer() -> None:
    if _access_writer is not None:
        _access_writer.stop()


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

    global _access_writer, _access_formatter
    _access_formatter = format_access_json if log_format == "json" else format_access_console
    if _access_writer is None:
        _access_writer = AccessLogWriter()
        atexit.register(_stop_access_writer)
    else:
        _access_writer.flush()  # lines queued under the previous configuration go out first
    _access_writer.start()

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
